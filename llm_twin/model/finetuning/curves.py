"""The training-curves PNG of the model card: pt loss (when the stage ran), SFT loss, DPO loss and
DPO reward margin per step."""

from pathlib import Path
from typing import Any


def _series(history: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    points = [(int(e["step"]), float(e[key])) for e in history if key in e and "step" in e]
    return [p[0] for p in points], [p[1] for p in points]


def plot_curves(
    sft_history: list[dict[str, Any]],
    dpo_history: list[dict[str, Any]],
    path: Path,
    pt_history: list[dict[str, Any]] | None = None,
) -> Path:
    """Draw the curves into ``path`` (PNG) and return it.

    Args:
        sft_history: ``trainer.state.log_history`` of the SFT stage.
        dpo_history: The same for DPO (empty when DPO was skipped).
        path: Output file.
        pt_history: The same for the pt stage (None or empty when it did not run).
    """
    import matplotlib

    matplotlib.use("Agg")  # files only: no display here
    import matplotlib.pyplot as plt

    panels = [("PT loss", pt_history, ["loss"])] if pt_history else []
    panels += [("SFT loss", sft_history, ["loss"])]
    if dpo_history:
        panels += [
            ("DPO loss", dpo_history, ["loss"]),
            ("DPO rewards", dpo_history, ["rewards/margins", "rewards/chosen", "rewards/rejected"]),
        ]
    figure, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.4), squeeze=False)
    for axis, (title, history, keys) in zip(axes[0], panels, strict=True):
        for key in keys:
            steps, values = _series(history, key)
            if steps:
                axis.plot(steps, values, marker="o", markersize=2.5, label=key)
        axis.set_title(title)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
        if len(keys) > 1:
            axis.legend(fontsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
