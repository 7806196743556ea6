"""``stdp-ebm data DIR``: fetch the digitised STDP measurements into a directory of the user's.

The package does not ship the digitisations of Bi & Poo (1998) and Sjöström et al. (2001) that the
STDP experiments compare with (see :mod:`stdp_ebm.stdp.data`: their licence, CC BY-NC-ND 4.0, allows
verbatim copies for non-commercial use with attribution, but not relicensing under the package's MIT
licence). This module downloads the verbatim files from their public source at a pinned commit, checks
each against its pinned SHA-256, and writes them into the user's directory, as scikit-learn's
``fetch_*`` functions do; the experiments then read them with ``--set data.dir=DIR``.

Each file is written to a temporary name next to its destination and renamed into place only after its
checksum matches: a failed download leaves nothing half-written, and files already present with the
right checksum are not fetched again.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from .errors import DataError

__all__ = ["SOURCE", "COMMIT", "LICENCE", "FILES", "fetch_stdp_data"]

#: the public repository that holds the digitisations, and the commit they are read at
SOURCE = "https://raw.githubusercontent.com/dspicher/STDP_Multicompartment"
#: The commit of :data:`SOURCE` whose files are fetched (pinned, like their checksums).
COMMIT = "57e5cf2cd5b02f9519148f48515b7135cab73bad"
#: The licence of the digitisations, written into ``PROVENANCE.txt`` beside them.
LICENCE = ("CC BY-NC-ND 4.0 (https://creativecommons.org/licenses/by-nc-nd/4.0/): attribution "
           "required, non-commercial use only, no derivatives. Digitisations by "
           "github.com/dspicher/STDP_Multicompartment (experimental_data/); cite that repository "
           "and the original papers (Bi & Poo 1998, J Neurosci 18:10464; Sjöström, Turrigiano & "
           "Nelson 2001, Neuron 32:1149) when you use them.")
#: file name -> SHA-256 of its verbatim bytes at :data:`COMMIT`
FILES = {
    "bi_poo_stdp_points.csv": "f998a28a449268bf4a329cf490ed4cd9a4bab1470ede382d60c017812c917e3f",
    "sjo_ltp_freq_extracted.csv": "44081a0e09aff9843e441213ede05a68d4ca191179d9c64a5e7731d6285142b4",
    "sjo_ltd_freq_extracted.csv": "88ca20baec0e81b6771495371693dcf674a1c9b72cc7383dc0bf85b61ed7f7c7",
}
#: no file of the set is near this size; a larger answer is not the file
MAX_BYTES = 1 << 20


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _download(url: str, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 (https URL)
            body = answer.read(MAX_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DataError(f"{url}: cannot download ({reason})") from None
    if len(body) > MAX_BYTES:
        raise DataError(f"{url}: larger than {MAX_BYTES} bytes; not the expected file")
    return body


def fetch_stdp_data(directory: str | Path, base_url: str | None = None,
                    timeout: float = 60.0) -> list[Path]:
    """Download the digitised STDP points into ``directory`` and return their paths.

    Each file is checked against its pinned SHA-256 (:data:`FILES`) before it is put in place. A file
    already there with the right checksum is kept. ``PROVENANCE.txt`` records the source and licence.

    Parameters
    ----------
    directory : str or pathlib.Path
        Where to write the files (created if needed).
    base_url : str or None
        Replaces ``SOURCE/COMMIT/experimental_data`` (a mirror; the checksums stay pinned).
    timeout : float
        Seconds to wait for each download.

    Returns
    -------
    list of pathlib.Path
        The paths of the files of :data:`FILES`, in its order.

    Raises
    ------
    DataError
        If ``directory`` is not a directory, or a download fails, is oversized or has a wrong
        checksum (no partial file is left).
    """
    directory = Path(directory)
    base = (base_url or f"{SOURCE}/{COMMIT}/experimental_data").rstrip("/")
    if directory.exists() and not directory.is_dir():
        raise DataError(f"{directory}: not a directory")
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, sha256 in FILES.items():
        path = directory / name
        paths.append(path)
        if _sha256(path) == sha256:
            continue
        body = _download(f"{base}/{name}", timeout)
        got = hashlib.sha256(body).hexdigest()
        if got != sha256:
            raise DataError(f"{base}/{name}: SHA-256 {got} is not the pinned {sha256}; "
                            "nothing written")
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(body)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    (directory / "PROVENANCE.txt").write_text(
        f"Verbatim copies of {', '.join(FILES)} from {base} (SHA-256 checked).\n"
        f"Licence: {LICENCE}\n", encoding="utf-8")
    return paths
