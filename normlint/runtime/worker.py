"""The child process of ``normlint check``: import the user's file, build its models, run the checks.

    python -m normlint.runtime.worker REQUEST.json RESULT.json

Everything the parent needs comes back in RESULT.json, so whatever the user's code prints does not mix
with the report.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _probe(module, model, shape, request, arrays):
    import numpy as np

    batch = int(request.get("batch_size", 16))
    rng = np.random.default_rng(int(request.get("seed", 0)))
    if request.get("data"):
        from normlint.runtime.loader import LoadError

        try:
            data = np.load(request["data"], allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise LoadError(f"--data {request['data']}: not a readable .npy array ({str(exc).splitlines()[0][:200]})", kind="data") from None
        if data.ndim < 2 or data.shape[1:] != tuple(shape):
            raise LoadError(f"--data {request['data']}: shape {data.shape} does not match the model input "
                            f"(batch, {', '.join(map(str, shape))})", kind="data")
        if len(data) < 2:
            raise LoadError(f"--data {request['data']}: needs at least 2 samples, has {len(data)}", kind="data")
        return data[:batch].astype(np.float32), data
    train = None
    for name, arr in sorted(arrays.items(), key=lambda kv: ("train" not in kv[0].lower(), kv[0])):
        if arr.shape[1:] == tuple(shape) and arr.shape[0] >= 2 and np.issubdtype(arr.dtype, np.number):
            train = arr
            break
    if train is not None:
        return train[:batch].astype(np.float32), train
    return rng.normal(0.5, 1.0, size=(batch, *shape)).astype(np.float32), None


def _input_specs(model) -> list[tuple[str, tuple[int, ...]]] | None:
    """(name, shape without batch) of each input of a model with several inputs; None for one input or
    unknown shapes."""
    inputs = getattr(model, "inputs", None)
    if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
        return None
    specs = []
    for i, tensor in enumerate(inputs):
        shape = tuple(tensor.shape[1:])
        if not all(isinstance(d, int) for d in shape):
            return None
        specs.append((getattr(tensor, "name", None) or f"input_{i}", shape))
    return specs


def _multi_probe(model, specs, request):
    """One random probe per input: a dict by name where the model was built on a dict of inputs, else a list."""
    import numpy as np

    batch = int(request.get("batch_size", 16))
    rng = np.random.default_rng(int(request.get("seed", 0)))
    arrays = [rng.normal(0.5, 1.0, size=(batch, *shape)).astype(np.float32) for _, shape in specs]
    struct = getattr(model, "_inputs_struct", None)
    if isinstance(struct, dict):
        return dict(zip(struct.keys(), arrays))
    return arrays


def seed_weights(seed: int) -> None:
    """The same file checked twice gets the same initial weights, so the same verdicts: Keras draws the
    seed of every unseeded initializer (and of its global SeedGenerator) from Python's ``random``, and
    NumPy-built weights come from NumPy's global generator. Not ``keras.utils.set_random_seed``: it also
    seeds TensorFlow, which would make a tf.data pipeline's random augmentation repeat itself on every
    pass, unlike the user's own runs. A seed the user's file sets itself wins."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)


def run(request: dict) -> dict:
    result: dict = {"models": [], "error": None, "timings": {}}
    t0 = time.perf_counter()
    from normlint.runtime.backend import BackendError, import_keras

    try:
        keras = import_keras("check")
    except BackendError as exc:
        result["error"] = {"kind": "missing_backend", "message": str(exc)}
        return result
    import numpy as np

    from normlint.runtime import checks, loader
    from normlint.runtime.adapt_record import record_adapt_calls

    result["backend"] = keras.backend.backend()
    result["timings"]["import_keras"] = time.perf_counter() - t0
    path = Path(request["file"])
    try:
        records = record_adapt_calls()
        seed_weights(int(request.get("seed", 0)))
        t1 = time.perf_counter()
        module = loader.import_file(path)
        models = loader.find_models(module, request.get("entry"))
        result["timings"]["import_and_build"] = time.perf_counter() - t1
        arrays = loader.module_arrays(module)
        source = path.read_text(encoding="utf-8", errors="replace")
        trained = ".fit(" in source or "train_on_batch(" in source or "GradientTape" in source
        t2 = time.perf_counter()
        for name, model in models:
            specs = _input_specs(model) if request.get("input_shape") is None and not request.get("data") else None
            if specs is not None:  # several inputs: one probe each
                x = _multi_probe(model, specs, request)
                try:
                    reports = checks.check_model(model, x, name, records, None, int(request.get("seed", 0)), trained=trained)
                except Exception as exc:
                    raise loader._raised(f"running {name} on probes of shapes {[s for _, s in specs]}", exc) from None
                walked = dict(checks.walk_layers(model))
                lines = loader.layer_lines(source, module, model, {r.path: walked[r.path] for r in reports if r.path in walked})
                layer_dicts = [r.as_dict() for r in reports]
                for d in layer_dicts:
                    d["line"] = lines.get(d["layer"])
                result["models"].append({"name": name, "input_shape": [list(s) for _, s in specs],
                                         "inputs": [n for n, _ in specs],
                                         "probe": [[len(a), *a.shape[1:]] for a in checks._arrays(x)], "layers": layer_dicts})
                continue
            own = loader.model_input_shape(model)
            shape = tuple(request["input_shape"]) if request.get("input_shape") else None
            if shape is not None and own is not None and shape != own:
                raise loader.LoadError(
                    f"--input-shape {','.join(map(str, shape))} does not match the input shape of {name}, "
                    f"{','.join(map(str, own))}: leave --input-shape out, or give the model's",
                    kind="data",
                )
            shape = shape or own or loader.declared_shape(module, model)
            if shape is None:
                adapt = records.get(id(model))
                shape = tuple(adapt.shape[1:]) if adapt is not None else None
            if shape is None:
                raise loader.LoadError(
                    f"cannot tell the input shape of {name}: pass --input-shape (e.g. 32,32,3) or declare INPUT_SHAPE in the file"
                )
            x, train = _probe(module, model, shape, request, arrays)
            try:
                if not model.built:
                    model.build((None, *shape))
            except Exception:
                pass
            try:
                if isinstance(model, keras.Model) or not checks.is_checked(model):
                    reports = checks.check_model(model, x, name, records, train, int(request.get("seed", 0)),
                                                 trained=trained)
                else:  # a standalone normalization layer
                    rng = np.random.default_rng(int(request.get("seed", 0)))
                    reports = [checks.check_layer(model, x.astype(np.float64), rng, name, name, records.get(id(model)), train)]
            except Exception as exc:
                raise loader._raised(f"running {name} on a probe batch of shape {x.shape}", exc) from None
            layer_dicts = [r.as_dict() for r in reports]
            walked = dict(checks.walk_layers(model)) if isinstance(model, keras.layers.Layer) else {}
            lines = loader.layer_lines(path.read_text(encoding="utf-8", errors="replace"), module, model,
                                       {r.path: walked[r.path] for r in reports if r.path in walked} or {name: model})
            for d in layer_dicts:
                d["line"] = lines.get(d["layer"])
            result["models"].append({"name": name, "input_shape": list(shape), "probe": list(x.shape), "layers": layer_dicts})
        result["timings"]["checks"] = time.perf_counter() - t2
    except loader.LoadError as exc:
        result["error"] = {"kind": exc.kind, "message": str(exc), "traceback": exc.user_traceback}
    except Exception as exc:  # normlint's own failure on this model: say so, in one line
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        result["error"] = {"kind": "internal", "message": f"normlint check could not finish on {path.name}: "
                           f"{type(exc).__name__}: {first} (please report this)", "traceback": None}
    return result


def main() -> int:
    request = json.loads(Path(sys.argv[1]).read_text())
    result = run(request)
    out = Path(sys.argv[2])
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, default=float))
    tmp.replace(out)  # whole or absent: the parent never reads half a result
    return 0


if __name__ == "__main__":
    code = main()
    # The result is written: leave now. A thread the model file left running (non-daemon) would keep a
    # normal exit waiting for it and turn a finished check into a timeout.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
