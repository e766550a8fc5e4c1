"""Checksummed downloads, safe extraction, and the catalogue of real datasets (`gbench data list | fetch`).

Every file gbench fetches is streamed into a temp file in its destination folder while being hashed,
checked against the expected md5/sha256, and only then renamed into place (atomic on POSIX), so an
interrupted or corrupted download never leaves a partial file under the real name. Archives are
extracted into a temp folder next to the target and renamed into place after every member passed a
path check (no absolute paths, no `..`, no links or devices), so a crash mid-extraction leaves no
half-filled dataset folder either.

Offline first: with `GBENCH_OFFLINE=1` nothing touches the network, and a missing file is a one-line
`GBenchError` that names the file, its checksum, where to put it and the command that fetches it. A
failed network attempt ends in the same kind of line. A file already in place and verified is never
downloaded again, so copying an archive by hand and running `gbench data fetch NAME` works offline.

On-disk layout under the data root (default `$GBENCH_HOME/datasets`) is torchvision's, so an existing
torchvision download can be reused with `--root`: `cifar-10-batches-py/`, `stl10_binary/`,
`MNIST/raw/`, `celeba/`.

File hashes of large inputs (Inception weights, STL-10 binaries) are cached by (path, mtime, size) in
`$GBENCH_HOME/cache/sha256.json`, because re-hashing hundreds of MB on every evaluation is wasteful.
"""

from __future__ import annotations

import hashlib
import http.client
import importlib
import json
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from gbench.errors import GBenchError, UsageError
from gbench.paths import cache_dir, datasets_dir

CHUNK_BYTES = 1 << 20
TIMEOUT_S = 60


# ----------------------------------------------------------------------------- environment


def is_offline() -> bool:
    """True when `GBENCH_OFFLINE` is set to 1/true/yes/on: no network access is attempted at all."""
    return os.environ.get("GBENCH_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def fetch_command(name: str, root: Path | str | None = None) -> str:
    """The CLI line that fetches `name` (with `--root` only when it is not the default)."""
    if root is None or Path(root).expanduser().resolve() == datasets_dir().expanduser().resolve():
        return f"gbench data fetch {name}"
    return f"gbench data fetch {name} --root {root}"


# ----------------------------------------------------------------------------- checksums


def describe_checksum(*, md5: str | None = None, sha256: str | None = None, sha256_prefix: str | None = None) -> str:
    """Human-readable expected checksum for messages, e.g. 'md5 c58f...' or 'sha256 6726825d...'."""
    if sha256:
        return f"sha256 {sha256}"
    if md5:
        return f"md5 {md5}"
    if sha256_prefix:
        return f"sha256 starting {sha256_prefix}"
    return "no checksum"


def file_digests(path: Path | str, algorithms: tuple[str, ...] = ("md5", "sha256")) -> dict[str, str]:
    """Hex digests of `path` for each algorithm, in one pass over the file."""
    hashers = {name: hashlib.new(name) for name in algorithms}
    with open(path, "rb") as f:
        while block := f.read(CHUNK_BYTES):
            for h in hashers.values():
                h.update(block)
    return {name: h.hexdigest() for name, h in hashers.items()}


def _mismatch(digests: dict[str, str], md5: str | None, sha256: str | None, sha256_prefix: str | None) -> str | None:
    """None when the digests match every expectation given, else a short description of the mismatch."""
    if md5 and digests["md5"] != md5.lower():
        return f"md5 is {digests['md5']}, expected {md5}"
    if sha256 and digests["sha256"] != sha256.lower():
        return f"sha256 is {digests['sha256']}, expected {sha256}"
    if sha256_prefix and not digests["sha256"].startswith(sha256_prefix.lower()):
        return f"sha256 is {digests['sha256']}, expected it to start with {sha256_prefix}"
    return None


def verify(path: Path | str, *, md5: str | None = None, sha256: str | None = None, sha256_prefix: str | None = None) -> bool:
    """True when `path` exists and matches every checksum given. A `sha256_prefix` (the 8 hex digits in a
    torch-hub file name) is only a 32-bit check: it catches truncation and corruption, not a forgery."""
    path = Path(path)
    if not path.is_file():
        return False
    if sha256 or sha256_prefix:  # sha256 goes through the (path, mtime, size) cache
        digest = cached_sha256(path)
        if _mismatch({"sha256": digest}, None, sha256, sha256_prefix):
            return False
    return not (md5 and file_digests(path, ("md5",))["md5"] != md5.lower())


def _hash_cache_path() -> Path:
    return cache_dir() / "sha256.json"


def _read_hash_cache() -> dict:
    try:
        cache = json.loads(_hash_cache_path().read_text())
    except (OSError, ValueError):
        return {}
    return cache if isinstance(cache, dict) else {}


def _remember_sha256(path: Path, digest: str) -> None:
    from gbench.io import atomic_write_json

    stat = path.stat()
    cache = _read_hash_cache()
    cache[str(path.resolve())] = {"mtime_ns": stat.st_mtime_ns, "size": stat.st_size, "sha256": digest}
    try:
        atomic_write_json(cache, _hash_cache_path())
    except OSError:
        pass  # a read-only home still gets correct (uncached) hashes


def cached_sha256(path: Path | str) -> str:
    """sha256 of a file, remembered in `$GBENCH_HOME/cache/sha256.json` under (resolved path, mtime_ns,
    size). A file rewritten in place keeps its entry only if both mtime and size are unchanged, which
    only deliberate tampering achieves; the cache is a convenience, not a security boundary."""
    path = Path(path).resolve()
    stat = path.stat()
    entry = _read_hash_cache().get(str(path))
    if isinstance(entry, dict) and entry.get("mtime_ns") == stat.st_mtime_ns and entry.get("size") == stat.st_size:
        return entry["sha256"]
    digest = file_digests(path, ("sha256",))["sha256"]
    _remember_sha256(path, digest)
    return digest


# ----------------------------------------------------------------------------- download


def missing_file_message(dest: Path, checksum: str, command: str, reason: str) -> str:
    """The one line for a file that is needed, absent, and cannot be fetched right now."""
    reason = " ".join(str(reason).split())  # keep it on one line whatever the underlying error said
    return f"{reason}: {dest.name} ({checksum}) is missing; put it at {dest} or run `{command}` with network access"


def progress_bar(transient: bool = True):
    """A rich progress bar on stderr (bytes or items, with ETA), used for downloads and long preprocessing."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
        TimeRemainingColumn(), console=Console(stderr=True), transient=transient,
    )


def _byte_progress():
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
        console=Console(stderr=True), transient=True,
    )


def _open_url(url: str):
    """The one place that opens a URL (tests monkeypatch this or use file:// URLs)."""
    request = urllib.request.Request(url, headers={"User-Agent": "gbench"})
    return urllib.request.urlopen(request, timeout=TIMEOUT_S)


def _stream_to_temp(url: str, dest: Path) -> tuple[Path, dict[str, str]]:
    """Stream `url` into a temp file next to `dest`, hashing as it goes; the caller renames or removes it."""
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp)
    hashers = {"md5": hashlib.md5(), "sha256": hashlib.sha256()}
    try:
        with os.fdopen(fd, "wb") as out, _open_url(url) as response:
            total = response.headers.get("Content-Length") if hasattr(response, "headers") else None
            total = int(total) if total and str(total).isdigit() else None
            with _byte_progress() as progress:
                task = progress.add_task(dest.name, total=total, visible=total is not None)
                while block := response.read(CHUNK_BYTES):
                    out.write(block)
                    for h in hashers.values():
                        h.update(block)
                    progress.advance(task, len(block))
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp, {name: h.hexdigest() for name, h in hashers.items()}


def download(
    url: str | tuple[str, ...] | list[str],
    dest: Path | str,
    *,
    md5: str | None = None,
    sha256: str | None = None,
    sha256_prefix: str | None = None,
    command: str = "gbench data fetch",
) -> Path:
    """Make sure `dest` holds the verified file, downloading it from `url` (or the first working mirror of
    a tuple of urls) if needed. Streams into a temp file in dest's folder, verifies, then renames
    atomically; nothing partial is ever left behind. `command` is the CLI line named in error messages.
    Raises GBenchError (one line) when offline, when every mirror fails, or on a checksum mismatch."""
    if not (md5 or sha256 or sha256_prefix):
        raise ValueError(f"download({dest}): every download needs an md5, sha256 or sha256_prefix")
    dest = Path(dest)
    checksum = describe_checksum(md5=md5, sha256=sha256, sha256_prefix=sha256_prefix)
    if verify(dest, md5=md5, sha256=sha256, sha256_prefix=sha256_prefix):
        return dest
    if dest.exists():
        raise GBenchError(
            f"{dest} exists but does not match its {checksum}; delete it (or replace it with a good copy) and run `{command}`"
        )
    if is_offline():
        raise GBenchError(missing_file_message(dest, checksum, command, "offline (GBENCH_OFFLINE=1)"))
    dest.parent.mkdir(parents=True, exist_ok=True)
    urls = (url,) if isinstance(url, str) else tuple(url)
    failure = "no url"
    for source in urls:
        try:
            tmp, digests = _stream_to_temp(source, dest)
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:  # HTTPException: IncompleteRead; ValueError: bad url
            failure = f"download of {source} failed ({type(e).__name__}: {getattr(e, 'reason', e)})"
            continue
        problem = _mismatch(digests, md5, sha256, sha256_prefix)
        if problem:
            tmp.unlink(missing_ok=True)
            failure = f"downloaded {source} but its {problem} (file removed)"
            continue
        os.replace(tmp, dest)
        _remember_sha256(dest, digests["sha256"])  # computed while streaming; saves a re-hash on first use
        return dest
    raise GBenchError(missing_file_message(dest, checksum, command, failure))


def download_unpublished(url: str, dest: Path | str, *, command: str) -> tuple[Path, str]:
    """Download a file whose publisher gives no checksum (authors' released weights): stream it into a temp file
    beside `dest`, rename it into place and return (path, its sha256). Nothing is verified; the caller records the
    hash (and must never call the file verified). Offline or failed: one GBenchError line naming `command`."""
    dest = Path(dest)
    if is_offline():
        raise GBenchError(missing_file_message(dest, "no published checksum", command, "offline (GBENCH_OFFLINE=1)"))
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp, digests = _stream_to_temp(url, dest)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
        failure = f"download of {url} failed ({type(e).__name__}: {getattr(e, 'reason', e)})"
        raise GBenchError(missing_file_message(dest, "no published checksum", command, failure)) from None
    os.replace(tmp, dest)
    _remember_sha256(dest, digests["sha256"])
    return dest, digests["sha256"]


# ----------------------------------------------------------------------------- extraction


def _check_member(archive: Path, name: str, dest: Path) -> None:
    target = (dest / name).resolve()
    if os.path.isabs(name) or ".." in Path(name).parts or not target.is_relative_to(dest.resolve()):
        raise GBenchError(f"refusing to extract {archive}: member {name!r} would land outside {dest}")


def extract_archive(archive: Path | str, dest: Path | str, top_level: str) -> Path:
    """Extract a .tar(.gz) or .zip `archive` whose content lives under `top_level/`, so that
    `dest/top_level` appears complete or not at all. Links, devices and escaping paths are refused."""
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=dest, prefix=f".extract-{top_level}."))
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    _check_member(archive, info.filename, staging)
                zf.extractall(staging)
        else:
            try:
                with tarfile.open(archive) as tf:
                    for member in tf.getmembers():
                        _check_member(archive, member.name, staging)
                        if not (member.isfile() or member.isdir()):
                            raise GBenchError(f"refusing to extract {archive}: member {member.name!r} is a link or device")
                    tf.extractall(staging, filter="data")  # the stdlib's own safety filter, as a second line
            except tarfile.FilterError as e:
                raise GBenchError(f"refusing to extract {archive}: {e}") from None
            except (tarfile.TarError, EOFError, OSError) as e:
                raise GBenchError(f"cannot extract {archive}: {type(e).__name__}: {e} (corrupt or truncated archive?)") from None
        if not (staging / top_level).is_dir():
            raise GBenchError(f"{archive} does not contain the expected folder {top_level}/")
        final = dest / top_level
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging / top_level, final)
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# ----------------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class RemoteFile:
    """One downloadable file: its name on disk, mirrors (tried in order) and checksum."""

    filename: str
    urls: tuple[str, ...]
    md5: str | None = None
    sha256: str | None = None
    size: int | None = None  # bytes, for `gbench data list`; None where not known exactly


@dataclass(frozen=True)
class DatasetInfo:
    """A real dataset: the files its loader needs (relative to the data root) and where they come from."""

    name: str
    title: str
    content: str
    expected: tuple[str, ...]  # relative to the data root; all present == dataset present
    remotes: tuple[RemoteFile, ...]
    used_by: str
    archive_dir: str = ""  # where (relative to the root) downloaded files go before extraction
    manual: str = ""  # non-empty when automatic download is unreliable: how to get the files by hand
    module: str = ""  # gbench.data module holding fetch_<name> (dashes as underscores); "" = the module named like the dataset

    @property
    def folder(self) -> str:
        return self.expected[0].split("/")[0]


_MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
_MNIST_FILES = (  # md5s as in torchvision.datasets.MNIST.resources; sizes as served by both mirrors
    ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", 9_912_422),
    ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432", 28_881),
    ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", 1_648_877),
    ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", 4_542),
)

DATASETS: dict[str, DatasetInfo] = {
    "cifar10": DatasetInfo(
        name="cifar10",
        title="CIFAR-10",
        content="50k train / 10k test, 32x32 RGB, 10 classes",
        expected=tuple(f"cifar-10-batches-py/{f}" for f in (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")),
        remotes=(RemoteFile("cifar-10-python.tar.gz", ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
                            md5="c58f30108f718f92721af3b95e74349a", size=170_498_071),),
        used_by="AutoGAN, WGAN-GP, DCGAN, SN-GAN, TransGAN, StyleGAN2, BigGAN (cifar10-* protocols)",
    ),
    "stl10": DatasetInfo(
        name="stl10",
        title="STL-10",
        content="96x96 RGB: 5k train, 8k test, 100k unlabeled; GANs use train+unlabeled resized to 48x48",
        expected=tuple(f"stl10_binary/{f}" for f in ("train_X.bin", "train_y.bin", "test_X.bin", "test_y.bin", "unlabeled_X.bin")),
        remotes=(RemoteFile("stl10_binary.tar.gz", ("http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz",),
                            md5="91f7769df0f17e558f3565bffb0c7dfb", size=2_640_397_119),),
        used_by="AutoGAN, SN-GAN, TransGAN (stl10-48-* protocols)",
    ),
    "mnist": DatasetInfo(
        name="mnist",
        title="MNIST",
        content="60k train / 10k test, 28x28 grey, 10 classes",
        expected=tuple(f"MNIST/raw/{f}" for f, _, _ in _MNIST_FILES),
        remotes=tuple(RemoteFile(f, tuple(m + f for m in _MNIST_MIRRORS), md5=md5, size=size) for f, md5, size in _MNIST_FILES),
        used_by="GAN MLP and conditional GAN (Goodfellow 2014, Mirza 2014), DCGAN-32 smoke",
        archive_dir="MNIST/raw",
    ),
    "celeba": DatasetInfo(
        name="celeba",
        title="CelebA",
        content="202,599 aligned faces 178x218; official split 162,770 / 19,867 / 19,962; GANs use crop 108 -> 64x64",
        expected=("celeba/list_eval_partition.txt", "celeba/img_align_celeba"),
        remotes=(
            RemoteFile("img_align_celeba.zip", ("gdrive:0B7EVK8r0v71pZjFTYXZWM3FlRnM",),
                       md5="00d2c5bc6d35e252742224ab0c1e8fcb", size=1_443_490_838),
            RemoteFile("list_eval_partition.txt", ("gdrive:0B7EVK8r0v71pY0NSMzRuSXJEVkk",),
                       md5="d32c9cbf5e040fd4025c592c306e6668"),
        ),
        used_by="DCGAN, TransGAN v1 (CelebA 64x64)",
        archive_dir="celeba",
        manual="https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html (Google Drive, often quota-limited)",
    ),
    # Faces at 1024x1024 (gbench/data/faces.py): no single checksummed archive exists, so gbench checks files placed by hand.
    "ffhq": DatasetInfo(
        name="ffhq",
        title="FFHQ (Flickr-Faces-HQ)",
        content="70,000 aligned faces: images1024x1024/ (89.1 GB PNG) and/or thumbnails128x128/ (1.95 GB); StyleGAN trains on all 70k",
        expected=("ffhq/images1024x1024",),
        # the metadata (267,793,842 bytes) whose per-image md5s gbench checks; the images themselves are 70,000 separate files
        remotes=(RemoteFile("ffhq-dataset-v2.json", ("gdrive:16N0RV4fHI6joBuKbQAoG34V_cQk7vxSA",), md5="425ae20f06a4da1d4dc0f46d40ba5fd6"),),
        used_by="StyleGAN (ffhq-50k, ffhq128-10k protocols)",
        archive_dir="ffhq",
        manual="https://github.com/NVlabs/ffhq-dataset: python download_ffhq.py --json --images (or --thumbs), run inside <root>/ffhq",
        module="faces",
    ),
    "celebahq": DatasetInfo(
        name="celebahq",
        title="CelebA-HQ",
        content="30,000 faces at 1024x1024 from CelebA (Karras et al. 2018), as 00000.png .. 29999.png or 0.jpg .. 29999.jpg",
        expected=("celebahq",),
        # md5 as pinned by a public CelebAMask-HQ loader (not recomputed here: no network); its CelebA-HQ-img/ holds 0.jpg .. 29999.jpg
        remotes=(RemoteFile("CelebAMask-HQ.zip", ("gdrive:1badu11NqxGf6qM3PTTooQDJvQbejgbTv",), md5="f1d85e89ae6ac8c1cee9f1278095ce09"),),
        used_by="Progressive GAN, StyleGAN (celebahq-50k, celebahq128-10k protocols)",
        manual="put CelebAMask-HQ.zip (https://github.com/switchablenorms/CelebAMask-HQ, Google Drive) in the data root and run "
               "`gbench data fetch celebahq`, or put 00000.png .. 29999.png made by tkarras/progressive_growing_of_gans dataset_tool.py "
               "create_celebahq directly in <root>/celebahq",
        module="faces",
    ),
    # Super-resolution (gbench/data/sr.py). md5s as pinned by independent public loaders (torchsr and others);
    # they were not recomputed here (no network).
    "sr-benchmark": DatasetInfo(
        name="sr-benchmark",
        title="SR benchmark (EDSR benchmark.tar)",
        content="Set5 / Set14 / B100 (BSD100) / Urban100: HR PNGs + LR_bicubic X2/X3/X4 (MATLAB imresize); ~250 MB",
        expected=("benchmark/Set5/HR", "benchmark/Set14/HR", "benchmark/B100/HR"),
        remotes=(RemoteFile("benchmark.tar", ("https://cv.snu.ac.kr/research/EDSR/benchmark.tar",), md5="4ace41d33c2384b97e6b320cd0afd6ba"),),
        used_by="SRResNet / SRGAN (sr-x4-y protocol)",
        module="sr",
    ),
    "div2k": DatasetInfo(
        name="div2k",
        title="DIV2K train HR",
        content="800 2K-resolution PNGs (the SR training set gbench uses instead of SRGAN's ImageNet subset); ~3.5 GB zip",
        expected=("DIV2K/DIV2K_train_HR",),
        remotes=(RemoteFile("DIV2K_train_HR.zip", ("https://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_train_HR.zip",
                                                 "http://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_train_HR.zip"),
                            md5="bdc2d9338d4e574fe81bf7d158758658"),),
        used_by="SRResNet / SRGAN training",
        archive_dir="DIV2K",
        module="sr",
    ),
    # Image-to-image (gbench/data/paired.py). pix2pix's tarballs have no published checksum: gbench extracts a copy
    # downloaded by hand and checks its file counts. horse2zebra.zip: sha256 and size as pinned by TensorFlow Datasets'
    # cycle_gan url_checksums (not recomputed here; no network). Cityscapes needs a login.
    "facades": DatasetInfo(
        name="facades",
        title="CMP facades (pix2pix)",
        content="A|B pairs (photo | label colours), 512x256 JPEGs: train 400 / val 100 / test 106; ~30 MB",
        expected=("facades/train", "facades/val", "facades/test"),
        remotes=(RemoteFile("facades.tar.gz", ("http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/facades.tar.gz",)),),
        used_by="pix2pix-facades (facades-fid protocol)",
        manual="no published checksum: download facades.tar.gz by hand into the data root, then `gbench data fetch facades` extracts it",
        module="paired",
    ),
    "maps": DatasetInfo(
        name="maps",
        title="maps (pix2pix): aerial photo | Google map",
        content="A|B pairs 1200x600 JPEGs: train 1,096 / val 1,098; ~240 MB",
        expected=("maps/train", "maps/val"),
        remotes=(RemoteFile("maps.tar.gz", ("http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/maps.tar.gz",)),),
        used_by="pix2pix-maps (maps-fid protocol)",
        manual="no published checksum: download maps.tar.gz by hand into the data root, then `gbench data fetch maps` extracts it",
        module="paired",
    ),
    "horse2zebra": DatasetInfo(
        name="horse2zebra",
        title="horse2zebra (CycleGAN)",
        content="unaligned 256x256 JPEGs: trainA 1,067 horses, trainB 1,334 zebras, testA 120, testB 140",
        expected=("horse2zebra/trainA", "horse2zebra/trainB", "horse2zebra/testA", "horse2zebra/testB"),
        remotes=(RemoteFile("horse2zebra.zip", ("http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/horse2zebra.zip",
                                                "https://people.eecs.berkeley.edu/~taesung_park/CycleGAN/datasets/horse2zebra.zip"),
                            sha256="a74d9d392eecca9966b51287a76ca126af473d9de4f3e8fc0e9cda08fa1730a1", size=116_867_962),),
        used_by="cyclegan-horse2zebra (horse2zebra-fid protocol)",
        module="paired",
    ),
    # Text-to-image (gbench/data/text2image.py). Image archives: md5s as pinned by independent public loaders
    # (torchvision's Flowers102; common CUB-200-2011 loaders), not recomputed here (no network). The authors'
    # caption archives (reedscot/icml2016 README, Google Drive) have no published checksum: downloaded by hand.
    "cub": DatasetInfo(
        name="cub",
        title="CUB-200-2011 + Reed et al. captions",
        content="11,788 bird images, 200 classes (150 train+val / 50 test); 10 captions per image as 1024-d char-CNN-RNN embeddings",
        expected=("CUB_200_2011/images", "cub_icml/trainvalclasses.txt", "cub_icml/testclasses.txt"),
        remotes=(RemoteFile("CUB_200_2011.tgz", ("https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz?download=1",),
                            md5="97eceeb196236b17998738112f37df78"),
                 RemoteFile("cub_icml.tar.gz", ("gdrive:0B0ywwgffWnLLLUc2WHYzM0Q2eWc",))),
        used_by="text2image-cub (GAN-INT-CLS, Reed et al. 2016)",
        manual="https://drive.google.com/file/d/0B0ywwgffWnLLLUc2WHYzM0Q2eWc (cub_icml.tar.gz, linked from the reedscot/icml2016 README)",
        module="text2image",
    ),
    "flowers": DatasetInfo(
        name="flowers",
        title="Oxford-102 flowers + Reed et al. captions",
        content="8,189 flower images, 102 classes (82 train+val / 20 test); 10 captions per image as 1024-d char-CNN-RNN embeddings",
        expected=("oxford102/jpg", "flowers_icml/trainvalclasses.txt", "flowers_icml/testclasses.txt"),
        remotes=(RemoteFile("102flowers.tgz", ("https://www.robots.ox.ac.uk/~vgg/data/flowers/102/102flowers.tgz",),
                            md5="52808999861908f626f3c1f4e79d11fa"),
                 RemoteFile("flowers_icml.tar.gz", ("gdrive:0B0ywwgffWnLLMl9uOU91MV80cVU",))),
        used_by="text2image-flowers (GAN-INT-CLS, Reed et al. 2016)",
        manual="https://drive.google.com/file/d/0B0ywwgffWnLLMl9uOU91MV80cVU (flowers_icml.tar.gz, linked from the reedscot/icml2016 README)",
        module="text2image",
    ),
    "cityscapes": DatasetInfo(
        name="cityscapes",
        title="Cityscapes (prepared for pix2pix / CycleGAN / FCN-score)",
        content="2,975 train / 500 val frames; prepared as 256x256 A|B pairs (photo | label colours) + full-resolution train ids",
        expected=("cityscapes/train", "cityscapes/test", "cityscapes/trainIds/test"),
        remotes=(RemoteFile("gtFine_trainvaltest.zip", ("https://www.cityscapes-dataset.com/downloads/",)),
                 RemoteFile("leftImg8bit_trainvaltest.zip", ("https://www.cityscapes-dataset.com/downloads/",))),
        used_by="pix2pix-cityscapes, cyclegan-cityscapes (cityscapes-fcn protocols), gbench train-segmenter cityscapes",
        manual="login required at https://www.cityscapes-dataset.com; `gbench data fetch cityscapes` prints the steps",
        module="cityscapes",
    ),
    # ImageNet (gbench/data/imagenet.py): licensed, user-supplied; md5s of the official archives as torchvision pins them.
    "imagenet": DatasetInfo(
        name="imagenet",
        title="ImageNet ILSVRC2012",
        content="1.28M train images in 1,000 class folders, 50k val; BigGAN / DGP use a centre crop of the short side resized to 128",
        expected=("imagenet/train", "imagenet/val"),
        remotes=(RemoteFile("ILSVRC2012_img_train.tar", ("https://image-net.org/download-images",), md5="1d675b47d978889d74fa0da5fadfb00e"),
                 RemoteFile("ILSVRC2012_img_val.tar", ("https://image-net.org/download-images",), md5="29b22e2961454d5413ddabcf34fc5622"),
                 RemoteFile("ILSVRC2012_devkit_t12.tar.gz", ("https://image-net.org/download-images",),
                            md5="fa75699e90414af021442c21a62c3abf")),
        used_by="BigGAN ImageNet 128 (imagenet128-* protocols), Deep Generative Prior (dgp-imagenet128*)",
        manual="licence required at https://image-net.org; `gbench data fetch imagenet` prints the layout to extract into",
    ),
}


def dataset_info(name: str) -> DatasetInfo:
    if name not in DATASETS:
        raise UsageError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[name]


def resolve_root(root: Path | str | None) -> Path:
    return datasets_dir() if root is None else Path(root).expanduser()


def dataset_status(root: Path | str | None = None) -> list[tuple[str, bool, Path]]:
    """(name, present, folder) for every catalogued dataset; present means every expected file exists
    (a quick check without hashing; archives were verified when they were fetched)."""
    root = resolve_root(root)
    return [(info.name, all((root / rel).exists() for rel in info.expected), root / info.folder) for info in DATASETS.values()]


def require_files(name: str, root: Path, relative_paths) -> None:
    """Raise the one-line 'dataset not found' error unless every path (relative to root) exists."""
    info = dataset_info(name)
    for rel in relative_paths:
        if not (root / rel).exists():
            own = [r for r in info.remotes if r.filename == Path(rel).name]  # the missing file is itself a download
            archives = " + ".join(f"{r.filename} ({describe_checksum(md5=r.md5, sha256=r.sha256)})" for r in own or info.remotes)
            raise GBenchError(
                f"{info.title} not found: {root / rel} is missing; run `{fetch_command(name, root)}`, "
                f"or put {archives} in {root / info.archive_dir} and run it offline"
            )


def fetch_dataset(name: str, root: Path | str | None = None) -> Path:
    """Download, verify and extract a catalogued dataset (no-op when present); returns its folder."""
    info = dataset_info(name)
    module = importlib.import_module(f"gbench.data.{info.module or name}")
    return getattr(module, f"fetch_{name.replace('-', '_')}")(resolve_root(root))
