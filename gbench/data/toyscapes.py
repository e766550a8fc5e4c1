"""toyscapes: procedural street scenes with Cityscapes-coloured label maps, the smoke stand-in for Cityscapes
(pix2pix/CycleGAN smoke presets and the `toyscapes-fcn` protocol). No files: scenes are rendered from seeds,
and any prefix of a split is stable.
"""

from __future__ import annotations

import hashlib

import torch
import torch.nn.functional as F

from gbench.data.cityscapes import CITYSCAPES_LABELS, IGNORE
from gbench.errors import GBenchError

VERSION = 1  # bump when the rendering changes: part of every toyscapes checksum
TOY_CLASSES = ("road", "sidewalk", "building", "vegetation", "sky", "car", "pole")
TOY_PALETTE = tuple(next(c for n, _, _, c in CITYSCAPES_LABELS if n == name) for name in TOY_CLASSES)  # Cityscapes colours
TOY_RESOLUTION = 64
TOY_DEFAULT_SIZE = {"train": 1000, "val": 200}
TOY_CHUNK = 256  # scenes per seed: any prefix of a split is stable
TOY_SEEDS = {"train": 0, "val": 1_000_000, "train-unpaired": 2_000_000, "val-unpaired": 3_000_000}  # disjoint seed ranges
ROAD, SIDEWALK, BUILDING, VEGETATION, SKY, CAR, POLE = range(len(TOY_CLASSES))


def render_toyscapes(n: int, seed: int, resolution: int = TOY_RESOLUTION) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` street-like scenes: (class ids uint8 (n, R, R), 255 = ignore; photos uint8 (n, 3, R, R)).

    Layout: sky over a horizon; grass below it; a road widening towards the bottom with sidewalks on both
    sides; buildings (with window grids) and trees on the horizon; poles along the sidewalk; cars on the
    road; an ignored "ego vehicle" band at the bottom. Each class has its own texture (sky gradient, grass
    blotches, road grain, sidewalk tiles, windows, car colours), so a small segmenter can tell them apart.
    Vectorised over scenes; a few objects per scene are drawn one object index at a time.
    """
    g = torch.Generator().manual_seed(seed)
    R = resolution

    def rand(*shape):
        return torch.rand(*shape, generator=g)

    def per_scene(t):  # (n,) -> (n, 1, 1)
        return t.view(n, 1, 1)

    axis = (torch.arange(R, dtype=torch.float32) + 0.5) / R
    v, u = (t.expand(n, R, R) for t in torch.meshgrid(axis, axis, indexing="ij"))  # v down, u right, in [0, 1]
    yi, xi = (t.expand(n, R, R) for t in torch.meshgrid(torch.arange(R), torch.arange(R), indexing="ij"))
    label = torch.full((n, R, R), SKY, dtype=torch.uint8)

    horizon = per_scene(0.35 + 0.2 * rand(n))
    ground = v >= horizon
    label[ground] = VEGETATION
    centre0, tilt, spread = per_scene(0.3 + 0.4 * rand(n)), per_scene(0.8 * (rand(n) - 0.5)), per_scene(0.45 + 0.4 * rand(n))

    def road_centre(d):  # road centre and half width at depth d below the horizon (perspective: linear in d)
        return centre0 + tilt * d

    def road_half(d):
        return 0.015 + spread * d

    depth = (v - horizon).clamp(min=0)
    off_centre = (u - road_centre(depth)).abs()
    label[ground & (off_centre < road_half(depth))] = ROAD
    label[ground & (off_centre >= road_half(depth)) & (off_centre < road_half(depth) * 1.45 + 0.02)] = SIDEWALK

    building_id = torch.full((n, R, R), -1)
    for k in range(4):
        left, width = per_scene(rand(n) * 1.1 - 0.1), per_scene(0.1 + 0.2 * rand(n))
        top = (horizon - per_scene(0.08 + 0.3 * rand(n))).clamp(min=0.02)
        inside = (u >= left) & (u < left + width) & (v >= top) & (v < horizon + 0.015)
        label[inside] = BUILDING
        building_id[inside] = k
    for _ in range(3):  # trees
        cu, cv, radius = per_scene(rand(n)), horizon - per_scene(0.1 * rand(n)), per_scene(0.04 + 0.07 * rand(n))
        label[(u - cu) ** 2 + (v - cv) ** 2 < radius**2] = VEGETATION
    for side in (-1, 1):  # a pole on each sidewalk, standing at depth `foot`
        foot = per_scene(0.1 + 0.25 * rand(n))
        pole_u = road_centre(foot) + side * (road_half(foot) * 1.2 + 0.01)
        inside = ((u - pole_u).abs() < 0.8 / R + 0.004) & (v > horizon - 0.22) & (v < horizon + foot)
        label[inside & (per_scene(rand(n)) < 0.8)] = POLE
    car_id = torch.full((n, R, R), -1)
    for k in range(2):  # cars on the road, sized by their depth
        cd = per_scene(0.12 + 0.4 * rand(n)) * (1 - horizon)
        cu = road_centre(cd) + (per_scene(rand(n)) - 0.5) * road_half(cd)
        w, h = 0.06 + 0.45 * cd, 0.035 + 0.22 * cd
        inside = ((u - cu).abs() < w / 2) & ((v - horizon - cd).abs() < h / 2) & ground
        label[inside] = CAR
        car_id[inside] = k
    ego = 1 - per_scene(0.07 * rand(n))
    label[v > ego] = IGNORE

    # Textures, one class at a time, written where that class is.
    light = per_scene(0.8 + 0.35 * rand(n)).unsqueeze(1)
    photo = torch.zeros(n, 3, R, R)

    def paint(cls, texture):
        mask = (label == cls).unsqueeze(1)
        photo.copy_(torch.where(mask, texture.expand_as(photo), photo))

    sky = torch.tensor([0.45, 0.62, 0.88]).view(1, 3, 1, 1) + 0.08 * (rand(n, 3, 1, 1) - 0.5)
    paint(SKY, sky + 0.3 * (v / horizon).clamp(max=1).unsqueeze(1))
    blotches = F.interpolate(rand(n, 1, 8, 8), size=(R, R), mode="bilinear", align_corners=False)
    paint(VEGETATION, torch.tensor([0.2, 0.45, 0.12]).view(1, 3, 1, 1) * (0.5 + 0.9 * blotches))
    paint(ROAD, 0.33 + 0.12 * (rand(n, 1, R, R) - 0.5) + torch.zeros(1, 3, 1, 1))
    tiles = ((xi % 5 == 0) | (yi % 4 == 0)).unsqueeze(1).float()
    paint(SIDEWALK, torch.tensor([0.7, 0.62, 0.56]).view(1, 3, 1, 1) * (1 - 0.3 * tiles))
    building_colour = 0.35 + 0.35 * rand(n, 4, 1) + torch.tensor([0.06, 0.02, -0.04]) * rand(n, 4, 1)  # (n, 4 buildings, 3)
    facade = building_colour.gather(1, building_id.clamp(min=0).view(n, -1, 1).expand(-1, -1, 3)).view(n, R, R, 3).permute(0, 3, 1, 2)
    windows = ((xi % 4) >= 2) & ((yi % 5) >= 2)
    paint(BUILDING, torch.where(windows.unsqueeze(1), torch.tensor([0.12, 0.16, 0.25]).view(1, 3, 1, 1), facade))
    car_colour = rand(n, 2, 3)
    car_colour = 0.9 * car_colour / car_colour.amax(-1, keepdim=True)  # saturated
    body = car_colour.gather(1, car_id.clamp(min=0).view(n, -1, 1).expand(-1, -1, 3)).view(n, R, R, 3).permute(0, 3, 1, 2)
    paint(CAR, body)
    paint(POLE, torch.full((1, 3, 1, 1), 0.22))
    photo = torch.where((label == IGNORE).unsqueeze(1), torch.full_like(photo, 0.05), photo * light)
    photo = photo + 0.04 * (rand(n, 3, R, R) - 0.5)
    return label, (photo.clamp(0, 1) * 255).round().to(torch.uint8)


def toy_scenes(split: str, size: int, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
    base = TOY_SEEDS[split]
    labels, photos = [], []
    for start in range(0, size, TOY_CHUNK):
        lab, pho = render_toyscapes(TOY_CHUNK, seed=base + start // TOY_CHUNK, resolution=resolution)
        labels.append(lab[: size - start])
        photos.append(pho[: size - start])
    return torch.cat(labels), torch.cat(photos)


def toy_checksum(*parts) -> str:
    return hashlib.sha256("-".join(map(str, ("toyscapes", VERSION, *parts))).encode()).hexdigest()[:16]


def toy_split(split: str) -> str:
    base = split[:-1] if split.endswith(("A", "B")) else split
    if base not in ("train", "val"):
        raise GBenchError(f"toyscapes has splits train and val (and their A = photo / B = label colour halves), not {split!r}")
    return base
