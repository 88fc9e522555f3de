"""``normlint smoke``: LeNet-5 on CIFAR-10, plain vs normalized, on the available device and backend.

The two models of the article normlint comes from: *plain* is LeNet-5 with ReLU on raw pixels and a
sigmoid output (the article's first model); *normalized* adapts a Normalization layer on the training
images and puts BatchNormalization before each ReLU, with a softmax output.

One seed proves little: raw 0-255 inputs with ReLU and a sigmoid output often kill training outright, and
the article's plain figure is one lucky draw. So each model trains with several seeds (``--seeds``); the
report gives the mean and spread of best and final val_acc, counts the runs that collapsed to chance and
ends with a verdict. Each model is compiled once: later seeds load fresh initial weights into it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Callable

from normlint.runtime.smoke_report import ARTICLE

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


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


def build_normalized(x_adapt=None):
    """``x_adapt=None`` leaves the Normalization layer unadapted (used for fresh weights of another seed)."""
    import keras
    from keras import layers

    norm = layers.Normalization(name="input_normalization")
    if x_adapt is not None:
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


def _epoch_timer(on_epoch: Callable[[dict], None], n_train: int):
    """A Keras callback: training seconds per epoch (validation excluded) and the epoch's metrics.

    JAX and torch on a GPU dispatch steps asynchronously: the clock stops only once the optimizer's step
    count of the epoch's last step can be read, i.e. when the work is done, not when it was queued."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()
            self.train_end = None

        def on_test_begin(self, logs=None):
            if self.train_end is None:
                optimizer = getattr(self.model, "optimizer", None)
                if optimizer is not None:
                    keras.ops.convert_to_numpy(optimizer.iterations)  # waits for the queued steps
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


def train(model, ds, epochs: int, batch_size: int, on_epoch: Callable[[dict], None], arrays=None) -> list[dict]:
    """Fit ``model`` on ``ds``; ``arrays`` = (x_train, x_test) already as float32 saves a copy per run."""
    history: list[dict] = []

    def record(row):
        history.append(row)
        on_epoch(row)

    x_train, x_test = arrays or (ds.x_train.astype("float32"), ds.x_test.astype("float32"))
    model.fit(
        x_train,
        ds.y_train[: len(x_train)],
        batch_size=batch_size,
        epochs=epochs,
        validation_data=(x_test, ds.y_test),
        validation_batch_size=eval_batch_size(len(x_test), batch_size),
        verbose=0,
        callbacks=[_epoch_timer(record, len(x_train))],
    )
    return history


def full_batches(n: int, batch_size: int) -> int:
    """How many training images make whole batches. A last, smaller batch would make JAX and torch.compile
    compile the training step a second time, and give BatchNormalization a small-batch step; the images
    are shuffled by seed first, so the few left out are a random handful."""
    return n - n % batch_size if n >= batch_size else n


def eval_batch_size(n: int, batch_size: int, largest: int = 2048) -> int:
    """A validation batch size that divides ``n`` (one compiled evaluation step) and is large: validation
    needs no gradients, and on a GPU each step's dispatch, not its arithmetic, is what costs."""
    if n <= max(batch_size, largest):
        return max(n, 1)
    for size in range(min(max(batch_size, largest), n), max(batch_size // 2, 1) - 1, -1):
        if n % size == 0:
            return size
    return batch_size


def reinitialize(model, fresh) -> None:
    """Give the compiled ``model`` the initial weights of ``fresh`` (same architecture, another seed) and
    a zeroed optimizer, so that a new seed reuses the compiled training step instead of compiling anew.
    Adapted Normalization layers keep their statistics: they come from the data, not the seed."""
    import keras

    for layer, new in zip(model.layers, fresh.layers):
        if not isinstance(layer, keras.layers.Normalization):
            layer.set_weights(new.get_weights())
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and optimizer.built:  # its slots, step count and learning rate as new
        new = type(optimizer).from_config(optimizer.get_config())
        new.build(model.trainable_variables)
        for var, init in zip(optimizer.variables, new.variables):
            var.assign(init)


def _jax_compile_cache() -> None:
    """Keep XLA's compiled training steps beside the decoded data: a second smoke run on the same machine
    skips the compiles (the first run of a fresh machine still pays them)."""
    from normlint.runtime.data import cache_dir

    folder = cache_dir()
    if folder is None:
        return
    try:
        import jax

        jax.config.update("jax_compilation_cache_dir", str(folder / "jax"))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    except Exception:  # an older jax without these options: compile as before
        pass


def auto_defaults(accelerated: bool) -> tuple[int, int]:
    """(epochs, seeds) when not given: the embedded CPU run must stay under a minute on a 2-core machine;
    a GPU trains the article's 10 epochs with more seeds in less time."""
    return (10, 3) if accelerated else (3, 2)


def _check_plot_target(path: str) -> None:
    """Fail before training, not after, when the curves cannot be written."""
    from normlint.errors import UsageError

    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UsageError(f"--plot {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"--plot {path}: folder {parent} is not writable")
    if os.path.isdir(path):
        raise UsageError(f"--plot {path}: is a folder, give a .png file name")


def _validate(args) -> None:
    from normlint.errors import UsageError

    for name in ("epochs", "batch_size", "seeds"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    if args.subset is not None and args.subset < 1:
        raise UsageError("--subset must be at least 1")


def run_smoke(args) -> int:
    from normlint.errors import UsageError
    from normlint.runtime import smoke_report as report
    from normlint.runtime.backend import BackendError, device_name, import_keras, is_accelerated, require_module

    _validate(args)
    try:
        if args.data != "keras":
            require_module("PIL", "pillow", "smoke", "to decode the CIFAR-10 images")
        if args.plot:
            require_module("matplotlib", "matplotlib", "smoke", "--plot")
            _check_plot_target(args.plot)
        from normlint.runtime.data import DataError, load_cifar

        out = sys.stderr if args.format == "json" else sys.stdout
        t0 = time.perf_counter()
        try:  # before Keras is imported, so that the decoding pool can fork
            ds = load_cifar(args.data, args.subset, args.seed, cache=not args.no_cache)
        except DataError as exc:
            raise UsageError(str(exc)) from None
        data_seconds = time.perf_counter() - t0
        keras = import_keras("smoke")
    except BackendError as exc:
        raise UsageError(str(exc)) from None
    import_seconds = time.perf_counter() - t0 - data_seconds
    backend = keras.backend.backend()
    if backend == "jax" and not args.no_cache:
        _jax_compile_cache()
    device = device_name()
    auto_epochs, auto_seeds = auto_defaults(is_accelerated(device))
    epochs = args.epochs or auto_epochs
    seeds = [args.seed + i for i in range(args.seeds or auto_seeds)]
    classes = len(ds.classes)
    print(f"normlint smoke: LeNet-5 on CIFAR-10, {ds.describe()} (loaded in {data_seconds:.1f} s); "
          f"{device} on {backend}; {epochs} epoch(s), batch {args.batch_size}, seed(s) {seeds}", file=out, flush=True)
    n_train = full_batches(len(ds.x_train), args.batch_size)
    if n_train < len(ds.x_train):
        print(f"each epoch trains on {n_train} images, whole batches of "
              f"{args.batch_size} (the last {len(ds.x_train) % args.batch_size} of the shuffled set are left out)",
              file=out, flush=True)
    arrays = (ds.x_train[:n_train].astype("float32"), ds.x_test.astype("float32"))
    runs: dict[str, list[dict]] = {"plain": [], "normalized": []}
    models = {}
    timings: dict[str, float] = {"import_seconds": import_seconds, "data_seconds": data_seconds}
    t_train = time.perf_counter()
    for name in ("plain", "normalized"):
        model = None
        for seed in seeds:
            keras.utils.set_random_seed(seed)
            t_build = time.perf_counter()
            if model is None:
                model = build_plain() if name == "plain" else build_normalized(arrays[0])
                compile_model(model)
            else:
                reinitialize(model, build_plain() if name == "plain" else build_normalized())
            timings[f"build_{name}_seconds"] = timings.get(f"build_{name}_seconds", 0.0) + time.perf_counter() - t_build

            def progress(row, name=name, seed=seed):
                print(f"[{name:>10} seed {seed}] epoch {row['epoch']}/{epochs}  loss {row['loss']:.4f}  "
                      f"acc {row['acc']:.4f}  val_acc {row['val_acc']:.4f}  ({row['train_seconds']:.1f} s, "
                      f"{row['images_per_second']:.0f} img/s)", file=out, flush=True)

            history = train(model, ds, epochs, args.batch_size, progress, arrays)
            runs[name].append(report.run_summary(seed, history, classes))
        models[name] = model
    timings["train_seconds"] = time.perf_counter() - t_train
    summaries = {n: report.model_summary(r) for n, r in runs.items()}
    check_reports = []
    t_check = time.perf_counter()
    if not args.no_check:
        from normlint.runtime.checks import check_model

        batch = arrays[0][: min(256, len(arrays[0]))]
        check_reports = check_model(
            models["normalized"], batch, "lenet5_normalized", seed=args.seed,
            only=lambda layer: isinstance(layer, keras.layers.BatchNormalization),
        )
    timings["check_seconds"] = time.perf_counter() - t_check
    if args.plot:
        try:
            source = os.path.basename(ds.source.removeprefix("--data ").rstrip("/")) or ds.source
            report.plot(summaries, args.plot, f"LeNet-5 on CIFAR-10, plain vs normalized, {len(seeds)} seed(s), {epochs} epoch(s)\n"
                                              f"{source}: {len(ds.x_train)} train / {len(ds.x_test)} test images; "
                                              f"{device} on {backend}")
        except OSError as exc:
            raise UsageError(f"--plot {args.plot}: {exc}") from None
    failed = sum(1 for r in check_reports if r.status == "fail")
    verdict = report.verdict(summaries)
    if args.format == "json":
        doc = {
            "device": device,
            "backend": backend,
            "data": {"source": ds.source, "train": int(len(ds.x_train)), "test": int(len(ds.x_test)),
                     "train_used_per_epoch": int(n_train)},
            "epochs": epochs,
            "batch_size": args.batch_size,
            "seeds": seeds,
            "models": summaries,
            "collapse": {n: report.collapse_sentence(n, m, classes) for n, m in summaries.items()},
            "verdict": verdict,
            "article": ARTICLE,
            "check": [r.as_dict() for r in check_reports],
            "plot": args.plot,
            "timings": {**timings, "total_seconds": time.perf_counter() - t0},
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        print("\n" + report.text_report(summaries, classes, epochs))
        if check_reports:
            print(f"runtime check of the normalized model's {len(check_reports)} BatchNormalization layers on a training batch: "
                  + ("all passed" if not failed else f"{failed} FAILED"))
            for r in check_reports:
                print(f"  {r.status.upper():4}  {r.path}: {r.normalizes}; " + " ".join(f"{c.name}={c.status}" for c in r.checks))
        if args.plot:
            print(f"curves: {args.plot}")
    return 1 if failed else 0


__all__ = ["ARTICLE", "build_normalized", "build_plain", "compile_model", "reinitialize", "run_smoke", "train"]
