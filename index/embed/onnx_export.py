"""Export all-MiniLM-L6-v2 from the weights its package ships to an int8 ONNX model, and check it.

Run once per data folder, in a child process (``python -m ragd.index.embed.onnx_export OUT``): torch and
transformers are needed only here, so the long-lived processes never load them. Steps:

1. trace the transformer (input ids, attention mask, token types → last hidden state) to ONNX;
2. quantize its matrix multiplications to int8, per output channel (``quantize_dynamic``); per-tensor
   quantization of every operator was measured too and lost too much (mean cosine 0.96 to fp32);
3. embed ``CHECK_SENTENCES`` with both the fp32 model (sentence-transformers, torch) and the int8 one and
   write the cosines to ``OUT.json`` beside the model; a mean below ``MIN_MEAN_COSINE`` is an error.

The files appear atomically (written beside, then renamed), so two processes racing are harmless.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MIN_MEAN_COSINE = 0.98
CHECK_SENTENCES = [
    "The tomatoes were planted in the second week of May, after the last frost.",
    "Quarterly revenue rose 12% to $4.1 million, driven by subscriptions.",
    "Boundary-layer transition on a swept wing was measured at Mach 0.8.",
    "Please send the signed contract back before Friday.",
    "def parse(path): return open(path).read().splitlines()",
    "The 1973 oil crisis began when OAPEC proclaimed an oil embargo.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "Meeting notes: agreed to move the release to March; Alice owns the migration.",
    "The warranty does not cover damage caused by water or misuse.",
    "Ctenophores move by beating rows of cilia, the largest animals to do so.",
    "Set the thermostat to 20 degrees at night and 22 in the morning.",
    "Normans were descended from Norse raiders who settled in northern France.",
    "Error 404: the page you requested could not be found on this server.",
    "She paid the hotel bill of 380 euros in March with the company card.",
    "A short one.",
    "Rows of numbers: 3.14159, 2.71828, 1.41421 and 1.61803 are famous constants.",
]


def export(out: Path) -> dict[str, Any]:
    """Write the int8 model to ``out`` and its check to ``out`` + ``.json``; returns the check."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    from ragd.index.embed.minilm import MiniLM, _model_dir

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    started = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    base = AutoModel.from_pretrained(str(_model_dir()))
    base.eval()
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        fp32, int8 = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        _trace(torch, base, fp32)
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"], extra_options={"DefaultTensorType": 1})
        from ragd.index.embed.minilm import MiniLMOnnx

        reference = MiniLM().embed_batch(CHECK_SENTENCES)
        candidate = MiniLMOnnx(model_path=int8).embed_batch(CHECK_SENTENCES)
        cosines = (reference * candidate).sum(axis=1)
        mean = round(float(cosines.mean()), 5)
        check: dict[str, Any] = {"mean_cosine": mean, "min_cosine": round(float(cosines.min()), 5),
                 "sentences": len(CHECK_SENTENCES), "seconds": round(time.perf_counter() - started, 2),
                 "quantization": "dynamic int8, MatMul weights per channel", "onnx_bytes": int8.stat().st_size}
        if mean < MIN_MEAN_COSINE:
            raise RuntimeError(f"the int8 export of all-MiniLM-L6-v2 differs from fp32 (mean cosine {mean} < "
                               f"{MIN_MEAN_COSINE}); use embedder = \"minilm-fp32\"")
        report = Path(tmp) / "check.json"
        report.write_text(json.dumps(check, indent=1), encoding="utf-8")
        os.replace(report, out.with_name(out.name + ".json"))
        os.replace(int8, out)  # the model last: its presence means both are there
    return check


def _trace(torch: Any, base: Any, path: Path) -> None:
    class Encoder(torch.nn.Module):  # type: ignore[misc]  # keyword arguments, one output
        def __init__(self) -> None:
            super().__init__()
            self.base = base

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.base(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    example = tuple(torch.ones(2, 16, dtype=torch.long) for _ in names)
    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]}
    import warnings

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes about Python control flow it folds
        torch.onnx.export(Encoder(), example, str(path), input_names=names, output_names=["last_hidden_state"],
                          dynamic_axes=axes, opset_version=17, dynamo=False)


if __name__ == "__main__":
    print(json.dumps(export(Path(sys.argv[1]))))
