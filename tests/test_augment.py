"""Whole-batch augmentation: crops are windows of the padded image, flips mirror, seeds repeat."""

import pytest
import torch
import torch.nn.functional as F

from fbcd_lab.data.augment import AugmentSpec, augment_batch, channel_stats, normalize
from fbcd_lab.data.batches import iterate_batches
from fbcd_lab.data.images import TensorImages

SPEC = AugmentSpec(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), crop_padding=4, hflip=True)


def windows(image, p):
    """Every crop of the zero-padded image and of its mirror image."""
    padded = F.pad(image, (p, p, p, p))
    h, w = image.shape[1:]
    out = []
    for source in (padded, padded.flip(2)):
        out += [source[:, y:y + h, x:x + w] for y in range(2 * p + 1) for x in range(2 * p + 1)]
    return out


def test_each_output_is_a_padded_crop_possibly_flipped():
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(1, 256, (16, 3, 8, 8), dtype=torch.uint8)
    out = augment_batch(images, SPEC, gen)
    assert out.shape == images.shape and out.dtype == torch.uint8
    for original, crop in zip(images, out):
        assert any(torch.equal(crop, w) for w in windows(original, 4))
    assert not torch.equal(out, images)


def test_augmentation_is_seeded_and_varies():
    images = torch.randint(0, 256, (64, 3, 8, 8), dtype=torch.uint8)
    a = augment_batch(images, SPEC, torch.Generator().manual_seed(1))
    b = augment_batch(images, SPEC, torch.Generator().manual_seed(1))
    c = augment_batch(images, SPEC, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_no_padding_no_flip_is_identity():
    images = torch.randint(0, 256, (4, 1, 5, 5), dtype=torch.uint8)
    spec = AugmentSpec((0.0,), (1.0,), crop_padding=0, hflip=False)
    assert torch.equal(augment_batch(images, spec, torch.Generator()), images)


def test_normalize_and_stats():
    images = torch.full((2, 3, 4, 4), 255, dtype=torch.uint8)
    assert torch.allclose(normalize(images, SPEC), torch.full((2, 3, 4, 4), 2.0))
    mean, std = channel_stats(torch.tensor([[[[0, 255]]]], dtype=torch.uint8))
    assert mean == pytest.approx((0.5,)) and std[0] == pytest.approx(0.7071, abs=1e-3)
    with pytest.raises(ValueError, match="crop_padding"):
        AugmentSpec((0.5,), (0.5,), crop_padding=-1)


def test_batches_cover_every_sample_once():
    labels = torch.arange(10).numpy()
    images = TensorImages(torch.randint(0, 256, (10, 3, 4, 4), dtype=torch.uint8), labels)
    batches = list(iterate_batches(images, 4, SPEC, train=True, generator=torch.Generator().manual_seed(0)))
    idx = torch.cat([b[2] for b in batches])
    assert [len(b[1]) for b in batches] == [4, 4, 2] and sorted(idx.tolist()) == list(range(10))
    assert all(torch.equal(b[1], b[2]) for b in batches)  # labels equal indices here
    ordered = list(iterate_batches(images, 4, SPEC, train=False, generator=torch.Generator()))
    assert torch.cat([b[2] for b in ordered]).tolist() == list(range(10))
    with pytest.raises(ValueError, match="batch_size"):
        next(iterate_batches(images, 0, SPEC, train=False, generator=torch.Generator()))
