#!/usr/bin/python3
"""Prints scikit-image's PSNR and SSIM (gaussian_weights=True, sigma 1.5, sample covariance,
channel_axis=-1) for pairs of image files, one JSON object per line: {"psnr": .., "ssim": ..}.

usage: skimage_metrics.py REFERENCE TEST [REFERENCE TEST ...]
"""

import json
import sys

import skimage.io
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


def main():
    files = sys.argv[1:]
    for reference_path, test_path in zip(files[0::2], files[1::2]):
        reference = skimage.io.imread(reference_path)
        test = skimage.io.imread(test_path)
        psnr = peak_signal_noise_ratio(reference, test)
        ssim = structural_similarity(
            reference, test, gaussian_weights=True, sigma=1.5, use_sample_covariance=True,
            channel_axis=-1 if reference.ndim == 3 else None,
        )
        print(json.dumps({"psnr": float(psnr), "ssim": float(ssim)}))


if __name__ == "__main__":
    main()
