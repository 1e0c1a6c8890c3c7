"""Small real datasets shipped inside the package (no network needed).

Each loader returns a :class:`Dataset`: the numbers as a NumPy array, their column names, and the
dates or labels where the data have them. Sources and licences are in each loader's docstring and in
``emlib/data/README.md``.
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

__all__ = ["Dataset", "load_digits", "load_earthquakes", "load_faithful", "load_goog", "load_iris",
           "load_seattle_weather", "load_wine"]


@dataclass(frozen=True)
class Dataset:
    """A dataset: ``data`` (n_samples, n_features) with named columns.

    Attributes
    ----------
    data : numpy.ndarray of shape (n_samples, n_features)
        The numeric columns.
    feature_names : tuple of str
        Name of each column of ``data``.
    dates : numpy.ndarray of datetime64[D] or None
        The date of each row, for time series.
    labels : numpy.ndarray of str or None
        A categorical label for each row, where the data has one.
    description : str
        What the numbers are and where they come from.
    """

    data: np.ndarray
    feature_names: tuple[str, ...]
    dates: np.ndarray | None = None
    labels: np.ndarray | None = None
    description: str = field(default="", repr=False)

    def column(self, name: str) -> np.ndarray:
        """The column called ``name``, shape (n_samples,)."""
        try:
            return self.data[:, self.feature_names.index(name)]
        except ValueError:
            raise KeyError(f"no column {name!r}; columns are {self.feature_names}") from None

    def __len__(self) -> int:
        return self.data.shape[0]


def _read_csv(filename: str) -> tuple[list[str], list[list[str]]]:
    """The header and the rows of a CSV file in ``emlib/data`` (gzip-compressed if named ``*.gz``)."""
    raw = resources.files("emlib.data").joinpath(filename).read_bytes()
    if filename.endswith(".gz"):
        raw = gzip.decompress(raw)
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
    return rows[0], rows[1:]


def _labelled(filename: str, description: str) -> Dataset:
    """A dataset whose CSV holds numeric columns and, last, a label for each row."""
    header, rows = _read_csv(filename)
    return Dataset(
        data=np.array([r[:-1] for r in rows], dtype=np.float64),
        feature_names=tuple(header[:-1]),
        labels=np.array([r[-1] for r in rows]),
        description=description,
    )


def load_faithful() -> Dataset:
    """Old Faithful geyser: 272 eruptions, duration and waiting time to the next one (minutes).

    The classic bimodal data for Gaussian mixtures: short eruptions are followed by short waits.

    Source: Härdle, W. (1991) *Smoothing Techniques with Implementation in S*; Azzalini, A. and
    Bowman, A. W. (1990) "A look at some data on the Old Faithful geyser", *Applied Statistics* 39,
    357–365. Distributed with R as ``datasets::faithful`` (public domain).

    Returns
    -------
    Dataset
        ``data`` of shape (272, 2), columns ``("eruptions", "waiting")``.
    """
    header, rows = _read_csv("faithful.csv")
    return Dataset(
        data=np.array(rows, dtype=np.float64),
        feature_names=tuple(header),
        description=load_faithful.__doc__,
    )


def load_earthquakes() -> Dataset:
    """Yearly counts of major earthquakes (magnitude 7 or more) worldwide, 1900–2006.

    The running example of Zucchini, W. and MacDonald, I. L. (2009) *Hidden Markov Models for Time
    Series: An Introduction Using R*, Chapman & Hall. The counts are overdispersed (variance 51.6,
    mean 19.4) and serially correlated, which makes them a textbook case for Poisson HMMs.

    Returns
    -------
    Dataset
        ``data`` of shape (107, 1), column ``("count",)``; ``dates`` holds 1 January of each year.
    """
    _, rows = _read_csv("earthquakes.csv")
    years = np.array([r[0] for r in rows], dtype=np.int64)
    return Dataset(
        data=np.array([[r[1]] for r in rows], dtype=np.float64),
        feature_names=("count",),
        dates=(years - 1970).astype("datetime64[Y]").astype("datetime64[D]"),
        description=load_earthquakes.__doc__,
    )


def load_seattle_weather() -> Dataset:
    """Daily weather in Seattle, 2012-01-01 to 2015-12-31 (1,461 days).

    Columns: precipitation (mm), maximum and minimum temperature (°C), wind speed (m/s); ``labels``
    holds the recorded weather: ``"sun"``, ``"fog"``, ``"rain"``, ``"drizzle"`` or ``"snow"``.

    Source: NOAA daily records for Seattle, as packaged in the Vega datasets collection
    (``seattle-weather.csv``, BSD-3-Clause licence; the NOAA records are public domain).

    The labels change meaning in spring 2013: from then on the source hardly records rain,
    drizzle or snow, and "fog" and "sun" take their place (the Vega datasets maintainers traced
    this to the upstream records). Compare label frequencies per year before trusting them; the
    book's chapter on tagged and untagged sequences merges them into "sun" and "other".

    Returns
    -------
    Dataset
        ``data`` of shape (1461, 4), columns ``("precipitation", "temp_max", "temp_min", "wind")``,
        with ``dates`` and ``labels``.
    """
    header, rows = _read_csv("seattle_weather.csv")
    return Dataset(
        data=np.array([r[1:5] for r in rows], dtype=np.float64),
        feature_names=tuple(header[1:5]),
        dates=np.array([r[0].replace("/", "-") for r in rows], dtype="datetime64[D]"),
        labels=np.array([r[5] for r in rows]),
        description=load_seattle_weather.__doc__,
    )


def load_goog() -> Dataset:
    """Google (GOOG) daily share prices, 2004-08-19 to 2008-10-14 (1,047 trading days).

    Columns: open, high, low, close, volume, adjusted close (US dollars; volume in shares).

    Source: the sample data file ``goog.npz`` shipped with matplotlib (matplotlib licence), itself
    taken from Yahoo! Finance.

    Returns
    -------
    Dataset
        ``data`` of shape (1047, 6), columns ``("open", "high", "low", "close", "volume",
        "adj_close")``, with ``dates``.
    """
    header, rows = _read_csv("goog.csv")
    return Dataset(
        data=np.array([r[1:] for r in rows], dtype=np.float64),
        feature_names=tuple(header[1:]),
        dates=np.array([r[0] for r in rows], dtype="datetime64[D]"),
        description=load_goog.__doc__,
    )


def load_iris() -> Dataset:
    """Fisher's irises: four measurements (cm) of 150 flowers, 50 of each of three species.

    Columns: sepal length, sepal width, petal length, petal width; ``labels`` holds the species,
    ``"setosa"``, ``"versicolor"`` or ``"virginica"`` (50 rows each, in that order).

    Source: Fisher, R. A. (1936) "The use of multiple measurements in taxonomic problems",
    *Annals of Eugenics* 7, 179–188, from measurements by Anderson, E. (1935). Distributed with R
    as ``datasets::iris`` (public domain); the same values as scikit-learn's ``load_iris``, which
    follow Fisher's paper (the UCI repository's copy differs from it in two entries).

    Returns
    -------
    Dataset
        ``data`` of shape (150, 4), columns ``("sepal_length", "sepal_width", "petal_length",
        "petal_width")``, with ``labels``.
    """
    return _labelled("iris.csv", load_iris.__doc__)


def load_wine() -> Dataset:
    """Chemical analysis of 178 Italian wines from three cultivars: 13 measurements each.

    Columns: alcohol, malic acid, ash, alcalinity of ash, magnesium, total phenols, flavanoids,
    nonflavanoid phenols, proanthocyanins, colour intensity, hue, OD280/OD315 of diluted wines,
    proline; ``labels`` holds the cultivar, ``"class_0"`` (59 wines), ``"class_1"`` (71) or
    ``"class_2"`` (48), in that order.

    Source: Forina, M. et al., PARVUS (Institute of Pharmaceutical and Food Analysis and
    Technologies, Genoa), via the UCI Machine Learning Repository's "Wine" data set (CC BY 4.0);
    the same values as scikit-learn's ``load_wine``.

    Returns
    -------
    Dataset
        ``data`` of shape (178, 13), with ``labels``.
    """
    return _labelled("wine.csv", load_wine.__doc__)


def load_digits() -> Dataset:
    """Handwritten digits: 1,797 images of 8 by 8 pixels, each pixel's ink from 0 to 16.

    Each image is a digit written by hand on a form, scanned as 32 by 32 black-and-white pixels and
    reduced to 8 by 8 by counting the black pixels in each 4 by 4 block. Row ``r`` of the image is
    columns ``8 r`` to ``8 r + 7`` of ``data`` (``data.reshape(-1, 8, 8)`` gives the images);
    ``labels`` holds the digit written, ``"0"`` to ``"9"`` (174 to 183 images of each).

    Source: Alpaydin, E. and Kaynak, C. (1998), "Optical Recognition of Handwritten Digits", the
    test set of the UCI Machine Learning Repository's data set (CC BY 4.0), from forms preprocessed
    by NIST's programs; the same values as scikit-learn's ``load_digits``.

    Returns
    -------
    Dataset
        ``data`` of shape (1797, 64), columns ``pixel_0_0`` to ``pixel_7_7`` (row, column), with
        ``labels``.
    """
    return _labelled("digits.csv.gz", load_digits.__doc__)
