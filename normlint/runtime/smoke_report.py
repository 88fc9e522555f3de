"""What ``normlint smoke`` says about its runs: per-model statistics across seeds, collapse detection,
the verdict, the summary table and the curves. Pure Python (matplotlib only for the plot)."""

from __future__ import annotations

import math
from statistics import mean, pstdev

ARTICLE = {"plain": 0.5009, "normalized": 0.6177, "normalized_peak": 0.6346}
COLLAPSE_MARGIN = 0.03  # train and val accuracy within this of chance, every epoch, is a collapse


def collapsed(history: list[dict], classes: int) -> bool:
    """The run never left chance: training and validation accuracy at chance in every epoch (or a loss
    that is not a number). A slow start that recovers is not a collapse, and one epoch cannot tell."""
    losses = [r["loss"] for r in history]
    if any(math.isnan(v) or math.isinf(v) for v in losses):
        return True
    if len(history) < 2:
        return False
    limit = 1.0 / classes + COLLAPSE_MARGIN
    return all(r["val_acc"] <= limit and r["acc"] <= limit for r in history)


def run_summary(seed: int, history: list[dict], classes: int) -> dict:
    best = max(history, key=lambda r: r["val_acc"])
    return {
        "seed": seed,
        "history": history,
        "best_val_acc": best["val_acc"],
        "best_epoch": best["epoch"],
        "final_val_acc": history[-1]["val_acc"],
        "final_loss": history[-1]["loss"],
        "collapsed": collapsed(history, classes),
    }


def model_summary(runs: list[dict]) -> dict:
    """Mean and spread (population std, min, max) of best and final val_acc across seeds."""
    best = [r["best_val_acc"] for r in runs]
    final = [r["final_val_acc"] for r in runs]
    return {
        "runs": runs,
        "seeds": [r["seed"] for r in runs],
        "best_val_acc": mean(best),
        "best_val_acc_std": pstdev(best),
        "best_val_acc_min": min(best),
        "best_val_acc_max": max(best),
        "final_val_acc": mean(final),
        "final_val_acc_std": pstdev(final),
        "collapsed": sum(r["collapsed"] for r in runs),
        # the first seed's curve, as the report of a single run always had it
        "history": runs[0]["history"],
        "best_epoch": runs[0]["best_epoch"],
    }


def collapse_sentence(name: str, summary: dict, classes: int) -> str | None:
    k, n = summary["collapsed"], len(summary["runs"])
    if not k:
        return None
    losses = ", ".join(f"{r['final_loss']:.4f}" for r in summary["runs"] if r["collapsed"])
    cause = (
        "raw 0-255 pixels drive the ReLUs into dead or saturated units and the sigmoid outputs saturate, so the "
        "gradients vanish: the failure that input normalization and BatchNormalization prevent"
        if name == "plain"
        else "the normalized model should not do this: look at the data and the learning rate"
    )
    return (f"{name} collapsed to chance in {k} of {n} seed(s): accuracy stayed at {1.0 / classes:.2f} every "
            f"epoch, final training loss {losses}; {cause}.")


def verdict(models: dict[str, dict]) -> str:
    plain, norm = models["plain"], models["normalized"]
    pairs = list(zip(plain["runs"], norm["runs"]))
    wins = sum(1 for p, q in pairs if q["best_val_acc"] > p["best_val_acc"])
    points = 100 * (norm["best_val_acc"] - plain["best_val_acc"])
    n = len(pairs)
    if points > 0:
        head = f"normalized beats plain by {points:.1f} points of best val_acc (mean), {wins} of {n} seed(s)"
    else:
        head = f"normalized does NOT beat plain: {points:+.1f} points of best val_acc (mean), better in {wins} of {n} seed(s)"
    return f"{head}; plain collapsed in {plain['collapsed']}, normalized in {norm['collapsed']}"


def _spread(summary: dict) -> str:
    return (f"best val_acc {summary['best_val_acc']:.4f} +- {summary['best_val_acc_std']:.4f} "
            f"(min {summary['best_val_acc_min']:.4f}, max {summary['best_val_acc_max']:.4f}), "
            f"final {summary['final_val_acc']:.4f} +- {summary['final_val_acc_std']:.4f}")


def summary_table(histories: dict[str, list[dict]]) -> str:
    names = list(histories)
    header = ["epoch"] + [f"{n} {k}" for n in names for k in ("loss", "acc", "val_acc")]
    lines = ["  ".join(f"{h:>16}" if i else f"{h:>5}" for i, h in enumerate(header))]
    for i in range(max(len(r) for r in histories.values())):
        cells = [f"{i + 1:>5}"]
        for n in names:
            row = histories[n][i] if i < len(histories[n]) else None
            cells += [f"{row[k]:>16.4f}" if row else f"{'':>16}" for k in ("loss", "acc", "val_acc")]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def text_report(models: dict[str, dict], classes: int, epochs: int) -> str:
    seeds = models["plain"]["seeds"]
    out = [f"first seed ({seeds[0]}):", summary_table({n: m["history"] for n, m in models.items()}), ""]
    for name, m in models.items():
        out.append(f"{name:>10}: {_spread(m)} over {len(m['runs'])} seed(s) {m['seeds']}")
    for name, m in models.items():
        sentence = collapse_sentence(name, m, classes)
        if sentence:
            out.append(sentence)
    out.append(f"article after 10 epochs: plain {ARTICLE['plain']}, normalized {ARTICLE['normalized']} "
               f"(peak {ARTICLE['normalized_peak']}); this run: {epochs} epoch(s)")
    out.append("verdict: " + verdict(models))
    return "\n".join(out)


def plot(models: dict[str, dict], path: str, title: str) -> None:
    """Mean train/val accuracy per model with the min-max band across seeds, and the article's figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=120)
    colors = {"plain": "tab:red", "normalized": "tab:blue"}
    for name, m in models.items():
        runs = [r["history"] for r in m["runs"]]
        length = min(len(h) for h in runs)
        epochs = list(range(1, length + 1))
        val = [[h[i]["val_acc"] for h in runs] for i in range(length)]
        acc = [[h[i]["acc"] for h in runs] for i in range(length)]
        color = colors.get(name)
        ax.plot(epochs, [mean(a) for a in acc], "--", color=color, label=f"{name} train (mean)")
        ax.plot(epochs, [mean(v) for v in val], "-o", color=color, markersize=3,
                label=f"{name} val (mean of {len(runs)}; {m['collapsed']} collapsed)")
        if len(runs) > 1:
            ax.fill_between(epochs, [min(v) for v in val], [max(v) for v in val], color=color, alpha=0.15)
        if name in ARTICLE:
            ax.axhline(ARTICLE[name], color=color, linestyle=":", linewidth=1, label=f"article {name} {ARTICLE[name]} (50k images, 10 epochs)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
