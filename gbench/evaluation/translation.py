"""Scoring an image-to-image generator under a translation protocol (pix2pix / CycleGAN).

One function for the trainers' evaluation and for imported releases (`gbench verify`): the generator runs as
the official test.py runs it without --eval, in train mode (BatchNorm batch statistics, dropout on), with its
buffers restored afterwards; FCN-score protocols go through `gbench.evaluation.fcn`, protocols with a
`source_split` translate that split and score the result with `evaluate_batches` (FID/KID against the reference).
"""

from __future__ import annotations

import torch
from torch import nn

from gbench.errors import GBenchError
from gbench.evaluation.evaluate import in_train_mode
from gbench.sampling import to_uint8


def translator(model: nn.Module, device):
    """uint8 batch on CPU -> uint8 translation on CPU, through `model`."""

    @torch.no_grad()
    def translate(images_uint8: torch.Tensor) -> torch.Tensor:
        return to_uint8(model(images_uint8.to(device).float() / 127.5 - 1)).cpu()

    return translate


def is_translation_protocol(protocol) -> bool:
    return bool(protocol.segmentation_classes or protocol.source_split)


def evaluate_translation(G: nn.Module, protocol_id: str, *, device, batch_size: int, segmenter: str = "") -> dict:
    """Score the translation generator `G` under `protocol_id` (an FCN-score protocol or one with a source_split)."""
    from gbench.protocols import get_protocol

    protocol, device = get_protocol(protocol_id), torch.device(device)
    with in_train_mode(G):  # the official test.py without --eval
        translate = translator(G, device)
        if protocol.segmentation_classes:
            from gbench.evaluation.fcn import evaluate_fcn

            return evaluate_fcn(translate, protocol.id, device=device, batch_size=batch_size, segmenter=segmenter)
        if protocol.source_split:
            from gbench.data.paired import load_domain
            from gbench.evaluation.evaluate import evaluate_batches

            source = load_domain(protocol.reference, protocol.source_split, resolution=protocol.resolution).images
            devices = [device.index or 0] if device.type == "cuda" else []
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(protocol.sample_seed)
                batches = (translate(source[i : i + batch_size]) for i in range(0, len(source), batch_size))
                return evaluate_batches(protocol.id, batches, device=device, sample_seed=protocol.sample_seed)
    raise GBenchError(f"protocol {protocol.id} cannot score a translation model; use an FCN-score protocol "
                      "or one with a source_split (e.g. horse2zebra-fid)")
