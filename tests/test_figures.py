"""The depth figures are written, readable and not blank."""

from __future__ import annotations

import numpy as np
from matplotlib import image

from verify.figures import FIGURES, write_depth_figures


def test_quick_figures_are_written_and_not_blank(tmp_path):
    written = write_depth_figures(tmp_path, 7, quick=True, dpi=60)
    assert set(written) == set(FIGURES)
    for path in written.values():
        pixels = image.imread(path)
        height, width = pixels.shape[:2]
        assert height > 150 and width > 250
        grey = pixels[..., :3].mean(axis=2)
        # more than a frame: a real share of pixels is neither white nor one flat colour
        assert np.mean(grey < 0.95) > 0.02
        assert len(np.unique(np.round(grey, 2))) > 20
