"""emlib.datasets: the shipped data, checked against published summaries (the wheel: test_wheel.py)."""

import dataclasses

import numpy as np
import pytest

from emlib import datasets


def test_faithful():
    data = datasets.load_faithful()
    assert data.data.shape == (272, 2) and data.data.dtype == np.float64
    assert data.feature_names == ("eruptions", "waiting")
    # R: colMeans(faithful) = 3.487783 70.897059
    np.testing.assert_allclose(data.data.mean(axis=0), [3.487783, 70.897059], atol=5e-7)
    assert data.dates is None and data.labels is None and len(data) == 272
    np.testing.assert_array_equal(data.column("waiting"), data.data[:, 1])
    np.testing.assert_array_equal(data.data[:2], [[3.6, 79.0], [1.8, 54.0]])


def test_earthquakes():
    data = datasets.load_earthquakes()
    counts = data.column("count")
    assert data.data.shape == (107, 1) and data.feature_names == ("count",)
    # Zucchini & MacDonald (2009): sum 2072, mean 19.36, variance 51.57
    assert counts.sum() == 2072
    assert counts.mean() == pytest.approx(19.36, abs=0.005)
    assert counts.var(ddof=1) == pytest.approx(51.57, abs=0.005)
    assert np.all(counts == np.round(counts)) and counts.min() >= 0
    assert data.dates.dtype == np.dtype("datetime64[D]")
    assert data.dates[0] == np.datetime64("1900-01-01") and data.dates[-1] == np.datetime64("2006-01-01")
    np.testing.assert_array_equal(np.diff(data.dates.astype("datetime64[Y]").astype(int)), 1)


def test_seattle_weather():
    data = datasets.load_seattle_weather()
    assert data.data.shape == (1461, 4)
    assert data.feature_names == ("precipitation", "temp_max", "temp_min", "wind")
    assert data.dates[0] == np.datetime64("2012-01-01") and data.dates[-1] == np.datetime64("2015-12-31")
    np.testing.assert_array_equal(np.diff(data.dates).astype(int), 1)  # every day once, in order
    labels, counts = np.unique(data.labels, return_counts=True)
    assert labels.tolist() == ["drizzle", "fog", "rain", "snow", "sun"]
    assert counts.sum() == 1461 and data.labels[0] == "drizzle" and data.labels[1] == "rain"
    assert np.all(data.column("temp_max") >= data.column("temp_min"))
    assert np.all(data.column("precipitation") >= 0) and np.all(data.column("wind") >= 0)


def test_goog():
    data = datasets.load_goog()
    assert data.data.shape == (1047, 6)
    assert data.feature_names == ("open", "high", "low", "close", "volume", "adj_close")
    assert data.dates[0] == np.datetime64("2004-08-19") and data.dates[-1] == np.datetime64("2008-10-14")
    assert len(data.dates) == 1047 and np.all(np.diff(data.dates).astype(int) > 0)
    high, low = data.column("high"), data.column("low")
    assert np.all(high >= low)
    assert np.all((data.column("close") >= low) & (data.column("close") <= high))
    np.testing.assert_array_equal(data.data[0, :4], [100.0, 104.06, 95.96, 100.34])


def test_iris():
    data = datasets.load_iris()
    assert data.data.shape == (150, 4) and data.data.dtype == np.float64
    assert data.feature_names == ("sepal_length", "sepal_width", "petal_length", "petal_width")
    # R: colMeans(iris[, 1:4]) = 5.843333 3.057333 3.758000 1.199333
    np.testing.assert_allclose(data.data.mean(axis=0), [5.843333, 3.057333, 3.758, 1.199333], atol=5e-7)
    species, counts = np.unique(data.labels, return_counts=True)
    assert species.tolist() == ["setosa", "versicolor", "virginica"] and counts.tolist() == [50, 50, 50]
    assert data.labels[0] == "setosa" and data.labels[-1] == "virginica" and data.dates is None
    # Fisher's values in rows 35 and 38, where the UCI copy differs
    np.testing.assert_array_equal(data.data[[34, 37]], [[4.9, 3.1, 1.5, 0.2], [4.9, 3.6, 1.4, 0.1]])


def test_wine():
    data = datasets.load_wine()
    assert data.data.shape == (178, 13) and len(data.feature_names) == 13
    assert data.feature_names[0] == "alcohol" and data.feature_names[-1] == "proline"
    cultivars, counts = np.unique(data.labels, return_counts=True)
    assert cultivars.tolist() == ["class_0", "class_1", "class_2"] and counts.tolist() == [59, 71, 48]
    # UCI's summary: alcohol 11.0-14.8 (mean 13.0), proline 278-1680 (mean 746)
    assert data.column("alcohol").min() == 11.03 and data.column("alcohol").max() == 14.83
    assert data.column("proline").min() == 278 and data.column("proline").max() == 1680
    assert round(data.column("proline").mean()) == 747
    np.testing.assert_array_equal(data.data[0, :3], [14.23, 1.71, 2.43])


def test_digits():
    data = datasets.load_digits()
    assert data.data.shape == (1797, 64) and data.data.dtype == np.float64
    assert data.feature_names[0] == "pixel_0_0" and data.feature_names[9] == "pixel_1_1"
    assert np.array_equal(data.data, np.round(data.data)) and data.data.min() == 0 and data.data.max() == 16
    # UCI's class distribution of the test set of "Optical Recognition of Handwritten Digits"
    digits, counts = np.unique(data.labels, return_counts=True)
    assert digits.tolist() == list("0123456789")
    assert counts.tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    images = data.data.reshape(-1, 8, 8)
    np.testing.assert_array_equal(images[0, 0], [0, 0, 5, 13, 9, 1, 0, 0])  # the first row of a "0"
    assert data.labels[0] == "0"


def test_digits_match_scikit_learn_copy():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    theirs = sklearn_datasets.load_digits()
    ours = datasets.load_digits()
    np.testing.assert_array_equal(ours.data, theirs.data)
    np.testing.assert_array_equal(ours.labels.astype(int), theirs.target)


@pytest.mark.parametrize("loader", [datasets.load_faithful, datasets.load_earthquakes,
                                    datasets.load_seattle_weather, datasets.load_goog, datasets.load_iris,
                                    datasets.load_wine, datasets.load_digits])
def test_every_loader_documents_source_and_licence(loader):
    data = loader()
    assert "Source" in loader.__doc__ or "Distributed" in loader.__doc__ or "example of" in loader.__doc__
    assert data.description == loader.__doc__
    assert np.all(np.isfinite(data.data))
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.data = None
    with pytest.raises(KeyError, match="no column 'nope'"):
        data.column("nope")
