"""Export a fitted n-gram TF-IDF + linear pipeline to ONNX with skl2onnx (training-time only).

skl2onnx's stock TfidfVectorizer converter produces a graph that tokenises differently from
scikit-learn and materialises a dense ``[texts, vocabulary]`` matrix (the fixed ~2 ms per call
measured in BENCHMARKS.md). So the model is registered with skl2onnx as one custom operator
whose converter emits a sparse graph over the keys made by ``classifier.features``:

    keys[K] --LabelEncoder--> feature index (unknown -> a zero row)
    tf = 1 + log(count)             (sublinear_tf, as scikit-learn computes it)
    w  = tf * idf[index]
    w /= ||w|| per (text, block)    (ScatterElements-add of w^2, then Gather back)
    logits[text] += w * coef[index] (ScatterElements-add over the K rows), + intercept
    probabilities = sigmoid(logits), times the parent's for a nested label

Cost is linear in the number of n-grams present, with no dense intermediate.

This module and classifier.train are the only ones that import scikit-learn, skl2onnx or onnx.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from onnx import TensorProto, helper
from skl2onnx import to_onnx, update_registered_converter
from skl2onnx.common.data_types import FloatTensorType, Int64TensorType
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer

from classifier.features import BLOCKS, CHAR_BLOCK, WORD_BLOCK, NgramSpec, vocabulary_key

ALIAS = "MizanSparseNgramLinear"
OPSET = {"": 18, "ai.onnx.ml": 3}
INPUTS = (
    ("keys", Int64TensorType([None])),
    ("counts", FloatTensorType([None])),
    ("segments", Int64TensorType([None])),
    ("n_texts", Int64TensorType([1])),
)


class ExportError(Exception):
    pass


class SparseNgramLinear(BaseEstimator):  # type: ignore[misc]
    """The fitted parts the converter needs: vocabularies, idf, coefficients."""

    def __init__(
        self,
        word: TfidfVectorizer,
        char: TfidfVectorizer,
        coef: npt.NDArray[np.float64],
        intercept: npt.NDArray[np.float64],
        spec: NgramSpec,
        parents: Sequence[int] = (),
    ) -> None:
        self.word = word
        self.char = char
        self.coef = coef
        self.intercept = intercept
        self.spec = spec
        self.parents = parents  # per label: the parent label's column, or -1


def export_onnx(model: SparseNgramLinear, name: str) -> bytes:
    update_registered_converter(
        SparseNgramLinear, ALIAS, _shape, _convert, parser=_parse, overwrite=True
    )
    onx = to_onnx(model, initial_types=list(INPUTS), target_opset=OPSET)
    onx.graph.name = name
    # skl2onnx collects the opsets in a set, whose order follows string hashing and so
    # changes from process to process; sorted, the same model always gives the same bytes.
    opsets = sorted((o.domain, o.version) for o in onx.opset_import)
    del onx.opset_import[:]
    for domain, version in opsets:
        onx.opset_import.append(helper.make_opsetid(domain, version))
    return bytes(onx.SerializeToString())


def _vocabulary_table(model: SparseNgramLinear) -> tuple[list[int], list[int]]:
    """Keys of every vocabulary term, mapped to its column in the FeatureUnion output."""
    keys: list[int] = []
    columns: list[int] = []
    offset = 0
    for block, vectorizer in ((WORD_BLOCK, model.word), (CHAR_BLOCK, model.char)):
        for term, column in vectorizer.vocabulary_.items():
            keys.append(vocabulary_key(term, block))
            columns.append(offset + column)
        offset += len(vectorizer.vocabulary_)
    if len(set(keys)) != len(keys):
        raise ExportError("two vocabulary terms hash to the same key; change the hash tags")
    return keys, columns


def _parse(scope: Any, model: Any, inputs: Sequence[Any], custom_parsers: Any = None) -> Any:
    operator = scope.declare_local_operator(ALIAS, model)
    operator.inputs = list(inputs)
    labels = model.coef.shape[0]
    operator.outputs.append(
        scope.declare_local_variable("probabilities", FloatTensorType([None, labels]))
    )
    return operator.outputs


def _shape(operator: Any) -> None:
    """Output shape is declared by the parser."""


def _convert(scope: Any, operator: Any, container: Any) -> None:
    model: SparseNgramLinear = operator.raw_operator
    keys_in, counts_in, segments_in, n_texts_in = (v.full_name for v in operator.inputs)
    out = operator.outputs[0].full_name
    features = len(model.word.vocabulary_) + len(model.char.vocabulary_)
    labels = model.coef.shape[0]
    keys, columns = _vocabulary_table(model)

    def name(hint: str) -> str:
        return str(scope.get_unique_variable_name(hint))

    def node(op: str, inputs: list[str], hint: str, domain: str = "", **attrs: Any) -> str:
        output = name(hint)
        container.add_node(
            op, inputs, output, op_domain=domain, name=scope.get_unique_operator_name(op), **attrs
        )
        return output

    def const(hint: str, dtype: int, dims: list[int], values: Any) -> str:
        tensor = name(hint)
        container.add_initializer(tensor, dtype, dims, values)
        return tensor

    # Row `features` of idf and coef is all zeros: where unknown n-grams land.
    idf = np.concatenate([model.word.idf_, model.char.idf_, [0.0]]).astype(np.float32)
    coef = np.vstack([model.coef.T, np.zeros((1, labels))]).astype(np.float32)
    idf_t = const("idf", TensorProto.FLOAT, [features + 1], idf.tolist())
    coef_t = const("coef", TensorProto.FLOAT, [features + 1, labels], coef.ravel().tolist())
    bias_t = const("intercept", TensorProto.FLOAT, [labels], model.intercept.tolist())
    one_t = const("one_scalar", TensorProto.FLOAT, [], [1.0])
    blocks_t = const("blocks", TensorProto.INT64, [1], [BLOCKS])
    labels_t = const("labels", TensorProto.INT64, [1], [labels])
    axis1_t = const("axis1", TensorProto.INT64, [1], [1])
    tiny_t = const("tiny", TensorProto.FLOAT, [], [1e-12])

    index = node(
        "LabelEncoder",
        [keys_in],
        "feature",
        domain="ai.onnx.ml",
        op_version=2,  # the first version that maps int64 keys to int64 values
        keys_int64s=keys,
        values_int64s=columns,
        default_int64=features,
    )
    tf = (
        node("Add", [node("Log", [counts_in], "log_tf"), one_t], "tf")
        if model.spec.sublinear_tf
        else counts_in
    )
    weight = node("Mul", [tf, node("Gather", [idf_t, index], "idf_k")], "tfidf")

    segment_sizes = node("Mul", [n_texts_in, blocks_t], "n_segments")
    zeros_seg = node("ConstantOfShape", [segment_sizes], "zeros_seg", value=_zero())
    squares = node("Mul", [weight, weight], "squares")
    norm2 = node(
        "ScatterElements", [zeros_seg, segments_in, squares], "norm2", axis=0, reduction="add"
    )
    norm = node("Max", [node("Sqrt", [norm2], "norm"), tiny_t], "safe_norm")
    unit = node("Div", [weight, node("Gather", [norm, segments_in], "norm_k")], "unit_weight")

    contribution = node(
        "Mul",
        [node("Gather", [coef_t, index], "coef_k"), node("Unsqueeze", [unit, axis1_t], "col")],
        "contribution",
    )
    # ScatterND adds each key's row of contributions into its text's row of logits
    text_of_key = node(
        "Unsqueeze", [node("Div", [segments_in, blocks_t], "text_of_key"), axis1_t], "text_index"
    )
    zeros_out = node(
        "ConstantOfShape",
        [node("Concat", [n_texts_in, labels_t], "out_shape", axis=0)],
        "zeros_out",
        value=_zero(),
    )
    logits = node(
        "ScatterND", [zeros_out, text_of_key, contribution], "logits_raw", reduction="add"
    )
    probabilities = node("Sigmoid", [node("Add", [logits, bias_t], "logits")], "own_probability")
    if not any(p >= 0 for p in model.parents):
        container.add_node(
            "Identity", [probabilities], out, name=scope.get_unique_operator_name("Id")
        )
        return
    # A nested label's probability is P(parent) * P(child | parent); column `labels` is all
    # ones, so a top-level label is multiplied by 1.
    ones_shape = node(
        "Concat", [n_texts_in, const("one_col", TensorProto.INT64, [1], [1])], "ones_shape", axis=0
    )
    ones = node("Expand", [const("one", TensorProto.FLOAT, [1, 1], [1.0]), ones_shape], "ones")
    with_ones = node("Concat", [probabilities, ones], "with_ones", axis=1)
    parents = [p if p >= 0 else labels for p in model.parents]
    parent_t = const("parents", TensorProto.INT64, [labels], parents)
    parent_probability = node("Gather", [with_ones, parent_t], "parent_probability", axis=1)
    container.add_node(
        "Mul", [probabilities, parent_probability], out, name=scope.get_unique_operator_name("Mul")
    )


def _zero() -> Any:
    return helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0])
