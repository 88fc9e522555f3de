"""``normlint smoke``: LeNet-5 on CIFAR-10, plain vs normalized, on the available device.

The two models of the article normlint comes from: *plain* is LeNet-5 with ReLU on raw pixels and a
sigmoid output (the article's first model); *normalized* adapts a Normalization layer on the training
images and puts BatchNormalization before each ReLU, with a softmax output.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ARTICLE = {"plain": 0.5009, "normalized": 0.6177, "normalized_peak": 0.6346}


def build_plain():
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(6, 5, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(16, 5, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(120, activation="relu"),
            layers.Dense(84, activation="relu"),
            # the article's first model: sigmoid outputs under a categorical loss, kept for the comparison
            layers.Dense(10, activation="sigmoid"),  # noqa: NL702
        ],
        name="lenet5_plain",
    )


def build_normalized(x_adapt):
    import keras
    from keras import layers

    norm = layers.Normalization(name="input_normalization")
    norm.adapt(x_adapt)

    def conv_bn_relu(filters):
        return [layers.Conv2D(filters, 5, padding="same", use_bias=False), layers.BatchNormalization(), layers.ReLU()]

    def dense_bn_relu(units):
        return [layers.Dense(units, use_bias=False), layers.BatchNormalization(), layers.ReLU()]

    return keras.Sequential(
        [keras.Input((32, 32, 3)), norm]
        + conv_bn_relu(6) + [layers.MaxPooling2D(2)]
        + conv_bn_relu(16) + [layers.MaxPooling2D(2), layers.Flatten()]
        + dense_bn_relu(120) + dense_bn_relu(84)
        + [layers.Dense(10, activation="softmax")],
        name="lenet5_normalized",
    )


def compile_model(model):
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )
    return model


def device_name() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU ({details.get('device_name', gpus[0].name)})"
    return f"CPU ({os.cpu_count()} cores)"


def _epoch_timer(on_epoch: Callable[[dict], None], n_train: int):
    """A Keras callback: training seconds per epoch (validation excluded) and the epoch's metrics."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()
            self.train_end = None

        def on_test_begin(self, logs=None):
            if self.train_end is None:
                self.train_end = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            end = self.train_end or time.perf_counter()
            logs = logs or {}
            seconds = end - self.start
            on_epoch(
                {
                    "epoch": epoch + 1,
                    "loss": float(logs.get("loss", float("nan"))),
                    "acc": float(logs.get("accuracy", float("nan"))),
                    "val_loss": float(logs.get("val_loss", float("nan"))),
                    "val_acc": float(logs.get("val_accuracy", float("nan"))),
                    "train_seconds": seconds,
                    "images_per_second": n_train / seconds if seconds > 0 else float("nan"),
                }
            )

    return EpochTimer()


def train(model, ds, epochs: int, batch_size: int, on_epoch: Callable[[dict], None]) -> list[dict]:
    history: list[dict] = []

    def record(row):
        history.append(row)
        on_epoch(row)

    model.fit(
        ds.x_train.astype("float32"),
        ds.y_train,
        batch_size=batch_size,
        epochs=epochs,
        validation_data=(ds.x_test.astype("float32"), ds.y_test),
        verbose=0,
        callbacks=[_epoch_timer(record, len(ds.x_train))],
    )
    return history


def plot(histories: dict[str, list[dict]], path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    colors = {"plain": "tab:red", "normalized": "tab:blue"}
    for name, rows in histories.items():
        epochs = [r["epoch"] for r in rows]
        ax.plot(epochs, [r["acc"] for r in rows], "--", color=colors.get(name), label=f"{name} train")
        ax.plot(epochs, [r["val_acc"] for r in rows], "-o", color=colors.get(name), label=f"{name} val", markersize=3)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


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


def run_smoke(args) -> int:
    from normlint.cli import UsageError

    for name in ("epochs", "batch_size"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    if args.subset is not None and args.subset < 1:
        raise UsageError("--subset must be at least 1")
    try:
        import keras
    except ImportError as exc:
        raise UsageError(f"normlint smoke needs TensorFlow/Keras ({exc}): pip install 'normlint[runtime]'") from None
    from normlint.runtime.data import DataError, load_cifar

    out = sys.stderr if args.format == "json" else sys.stdout
    try:
        ds = load_cifar(args.data, args.subset, args.seed)
    except DataError as exc:
        raise UsageError(str(exc)) from None
    device = device_name()
    print(f"normlint smoke: LeNet-5 on CIFAR-10, {ds.describe()}; device {device}; "
          f"{args.epochs} epoch(s), batch {args.batch_size}", file=out, flush=True)
    histories: dict[str, list[dict]] = {}
    models = {}
    for name in ("plain", "normalized"):
        keras.utils.set_random_seed(args.seed)
        model = build_plain() if name == "plain" else build_normalized(ds.x_train.astype("float32"))
        compile_model(model)

        def report(row, name=name):
            print(f"[{name:>10}] epoch {row['epoch']}/{args.epochs}  loss {row['loss']:.4f}  acc {row['acc']:.4f}  "
                  f"val_acc {row['val_acc']:.4f}  ({row['train_seconds']:.1f} s, {row['images_per_second']:.0f} img/s)",
                  file=out, flush=True)

        histories[name] = train(model, ds, args.epochs, args.batch_size, report)
        models[name] = model
    check_reports = []
    if not args.no_check:
        from normlint.runtime.checks import check_model

        batch = ds.x_train[: min(256, len(ds.x_train))].astype("float32")
        check_reports = check_model(
            models["normalized"], batch, "lenet5_normalized", seed=args.seed,
            only=lambda layer: isinstance(layer, keras.layers.BatchNormalization),
        )
    if args.plot:
        try:
            plot(histories, args.plot, f"LeNet-5 on CIFAR-10, plain vs normalized\n{ds.describe()}; {device}")
        except OSError as exc:
            raise UsageError(f"--plot {args.plot}: {exc}") from None
    best = {n: max(h, key=lambda r: r["val_acc"]) for n, h in histories.items()}
    failed = sum(1 for r in check_reports if r.status == "fail")
    if args.format == "json":
        doc = {
            "device": device,
            "data": {"source": ds.source, "train": int(len(ds.x_train)), "test": int(len(ds.x_test))},
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "models": {n: {"history": h, "best_val_acc": best[n]["val_acc"], "best_epoch": best[n]["epoch"]} for n, h in histories.items()},
            "article": ARTICLE,
            "check": [r.as_dict() for r in check_reports],
            "plot": args.plot,
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        print("\n" + summary_table(histories))
        for n, row in best.items():
            print(f"best val_acc {n}: {row['val_acc']:.4f} (epoch {row['epoch']})")
        print(f"article after 10 epochs: plain {ARTICLE['plain']}, normalized {ARTICLE['normalized']} (peak {ARTICLE['normalized_peak']})")
        if check_reports:
            print(f"runtime check of the normalized model's {len(check_reports)} BatchNormalization layers on a training batch: "
                  + ("all passed" if not failed else f"{failed} FAILED"))
            for r in check_reports:
                print(f"  {r.status.upper():4}  {r.path}: {r.normalizes}; " + " ".join(f"{c.name}={c.status}" for c in r.checks))
        if args.plot:
            print(f"curves: {args.plot}")
    return 1 if failed else 0


__all__ = ["ARTICLE", "build_normalized", "build_plain", "compile_model", "run_smoke", "train"]
