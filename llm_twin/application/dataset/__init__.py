"""Instruction (SFT) and preference (DPO) datasets built from the author's cleaned documents."""
