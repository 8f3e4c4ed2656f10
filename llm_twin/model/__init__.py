"""The twin's model: the base model setup and the prompt format shared by training and serving."""
