"""Draw the landing page's figure: a two-component Gaussian mixture fitted by emlib to Old Faithful.

Usage (from the repository root): ``python scripts/intro_figure.py`` writes
``book/images/old_faithful_mixture.png``. Run it again whenever emlib's mixture code or the figure changes,
and commit the PNG (the book build does not run this script).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.patches import Ellipse

from emlib import GaussianMixture
from emlib.datasets import load_faithful

BOOK = Path(__file__).resolve().parents[1] / "book"
OUTPUT = BOOK / "images" / "old_faithful_mixture.png"
COLOURS = ("#0072B2", "#E69F00")  # Okabe-Ito blue and orange, as in the chapters
# The chapters' style (text >= 11 pt, colour-blind-safe colours); the page shows this figure 560 px wide.
matplotlib.rc_file(BOOK / "matplotlibrc")


def covariance_ellipse(mean, covariance, n_std, colour):
    """Ellipse holding ``n_std`` standard deviations of a 2-D Gaussian (mean (2,), covariance (2, 2))."""
    variances, axes = np.linalg.eigh(covariance)
    angle = np.degrees(np.arctan2(axes[1, -1], axes[0, -1]))
    width, height = 2 * n_std * np.sqrt(variances[::-1])
    return Ellipse(mean, width, height, angle=angle, fill=False, edgecolor=colour, linewidth=1.6,
                   alpha=1.0 if n_std == 1 else 0.55)


def draw(path: Path = OUTPUT) -> Path:
    data = load_faithful()
    X = data.data
    mixture = GaussianMixture(n_components=2, random_state=0).fit(X)
    order = np.argsort(mixture.means_[:, 0])  # short eruptions first: blue, then orange
    responsibilities = mixture.predict_proba(X)[:, order]
    # Each point's colour is its responsibilities' mix of the two component colours.
    point_colours = responsibilities @ np.array([to_rgb(c) for c in COLOURS])

    fig, ax = plt.subplots(figsize=(5.6, 3.6), dpi=150, layout="constrained")
    ax.scatter(X[:, 0], X[:, 1], s=12, c=point_colours, edgecolors="none", alpha=0.85)
    for colour, k, name in zip(COLOURS, order, ("short", "long")):
        for n_std in (1, 2):
            ax.add_patch(covariance_ellipse(mixture.means_[k], mixture.covariances_[k], n_std, colour))
        ax.plot(*mixture.means_[k], marker="+", color="black", markersize=9, linestyle="none")
        ax.plot([], [], color=colour, linewidth=1.6,
                label=f"{name} eruptions: {mixture.weights_[k]:.0%} of all")
    ax.legend(loc="upper left", frameon=False)
    ax.set_xlabel("eruption length (minutes)")
    ax.set_ylabel("wait until the next (minutes)")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Fixed metadata so that re-running the script on the same code gives the same file.
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    return path


if __name__ == "__main__":
    print(draw(Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT))
