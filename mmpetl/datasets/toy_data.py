"""Small, deterministic toy datasets in real on-disk formats, for tests and the demo (nothing is downloaded).

COCO: ``<root>/{train,val}/*.png`` and ``<root>/annotations/instances_{train,val}.json`` with boxes and polygon masks
of three shape classes drawn in random colours on a noisy background.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Tuple

import cv2
import numpy as np

TOY_CLASSES = ('rectangle', 'ellipse', 'triangle')


def _shape_polygon(rng: np.random.Generator, label: int, size: int) -> np.ndarray:
    """A polygon (K, 2) of class ``label`` lying inside a ``size`` x ``size`` image."""
    w, h = rng.uniform(0.2, 0.45, size=2) * size
    cx = rng.uniform(w / 2, size - w / 2)
    cy = rng.uniform(h / 2, size - h / 2)
    if TOY_CLASSES[label] == 'rectangle':
        pts = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
    elif TOY_CLASSES[label] == 'ellipse':
        t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        pts = list(zip(w / 2 * np.cos(t), h / 2 * np.sin(t)))
    else:
        pts = [(0, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
    return np.array(pts, dtype=np.float64) + (cx, cy)


def _polygon_area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return float(0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def _make_image(rng: np.random.Generator, size: int, max_objects: int) -> Tuple[np.ndarray, List[Dict]]:
    image = rng.integers(0, 60, size=(size, size, 3), dtype=np.uint8)
    objects = []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        label = int(rng.integers(len(TOY_CLASSES)))
        poly = _shape_polygon(rng, label, size)
        color = tuple(int(c) for c in rng.integers(100, 256, size=3))
        cv2.fillPoly(image, [np.round(poly).astype(np.int32)], color)
        objects.append(dict(label=label, polygon=poly))
    return image, objects


def make_toy_coco(root: str, num_train: int = 16, num_val: int = 8, size: int = 128, max_objects: int = 3,
                  seed: int = 0) -> Dict[str, str]:
    """Write a toy COCO instance-segmentation dataset under ``root`` (overwrites it); returns the annotation paths.

    Later shapes may cover earlier ones; the polygons are the drawn outlines, as in hand-made COCO annotations.
    """
    rng = np.random.default_rng(seed)
    categories = [dict(id=i + 1, name=name, supercategory='shape') for i, name in enumerate(TOY_CLASSES)]
    paths = {}
    for split, num in (('train', num_train), ('val', num_val)):
        images, annotations = [], []
        image_dir = osp.join(root, split)
        os.makedirs(image_dir, exist_ok=True)
        for img_id in range(1, num + 1):
            image, objects = _make_image(rng, size, max_objects)
            file_name = f'{split}_{img_id:04d}.png'
            cv2.imwrite(osp.join(image_dir, file_name), image)
            images.append(dict(id=img_id, file_name=file_name, width=size, height=size))
            for obj in objects:
                poly = obj['polygon']
                x0, y0 = poly.min(axis=0)
                x1, y1 = poly.max(axis=0)
                annotations.append(dict(
                    id=len(annotations) + 1, image_id=img_id, category_id=obj['label'] + 1,
                    bbox=[round(float(x0), 2), round(float(y0), 2), round(float(x1 - x0), 2), round(float(y1 - y0), 2)],
                    area=round(_polygon_area(poly), 2), iscrowd=0,
                    segmentation=[[round(float(v), 2) for v in poly.reshape(-1)]]))
        ann_file = osp.join(root, 'annotations', f'instances_{split}.json')
        os.makedirs(osp.dirname(ann_file), exist_ok=True)
        with open(ann_file, 'w') as f:
            json.dump(dict(images=images, annotations=annotations, categories=categories), f)
        paths[split] = ann_file
    return paths
