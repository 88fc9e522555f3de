"""The rule registry: every rule class, in code order."""

from __future__ import annotations

from normlint.lint.rules.adapt import AdaptOnEvaluationData, NormalizationNeverAdapted
from normlint.lint.rules.axes import BatchNormAxisVsDataFormat, BatchNormOnBatchAxis, NormalizationOnBatchAxis
from normlint.lint.rules.base import Hit, Rule
from normlint.lint.rules.data import SigmoidWithCategoricalLoss, UnnormalizedImageInput
from normlint.lint.rules.ordering import BiasBeforeBatchNorm, DropoutBeforeBatchNorm
from normlint.lint.rules.subclass import LayerBuiltInCall, SharedNormalizationLayer
from normlint.lint.rules.training import (
    BatchNormSmallBatch,
    KerasMomentumInTorchConvention,
    TrainingCallWithoutTrainingFlag,
    UnfrozenBatchNormInTrainingMode,
    V1BatchNormWithoutUpdateOps,
)

ALL_RULES: tuple[type[Rule], ...] = tuple(
    sorted(
        (
            DropoutBeforeBatchNorm,
            BiasBeforeBatchNorm,
            BatchNormOnBatchAxis,
            BatchNormAxisVsDataFormat,
            NormalizationOnBatchAxis,
            NormalizationNeverAdapted,
            AdaptOnEvaluationData,
            LayerBuiltInCall,
            SharedNormalizationLayer,
            TrainingCallWithoutTrainingFlag,
            V1BatchNormWithoutUpdateOps,
            UnfrozenBatchNormInTrainingMode,
            KerasMomentumInTorchConvention,
            BatchNormSmallBatch,
            UnnormalizedImageInput,
            SigmoidWithCategoricalLoss,
        ),
        key=lambda r: r.code,
    )
)
RULES_BY_CODE: dict[str, type[Rule]] = {r.code: r for r in ALL_RULES}
# The ERRORS table: code -> one-line summary (NL000 is the engine's own).
ERRORS: dict[str, str] = {"NL000": "file could not be read, parsed or analysed"} | {r.code: r.summary for r in ALL_RULES}

__all__ = ["ALL_RULES", "ERRORS", "RULES_BY_CODE", "Hit", "Rule"]
