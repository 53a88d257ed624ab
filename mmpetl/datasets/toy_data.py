"""Small, deterministic toy datasets in the real on-disk formats of each task (nothing is downloaded).

Every image shows one to ``max_objects`` filled shapes of three classes (rectangle, ellipse, triangle) in random
colours on a noisy background. The writers lay them out as the upstream datasets expect:

- :func:`make_toy_coco` — COCO instances json (boxes + polygon masks) and PNG images (mmdet ``CocoDataset``);
- :func:`make_toy_ade20k` — ``images/{training,validation}/*.jpg`` and ``annotations/...*.png`` label maps with 0 =
  background, the ADE20K convention for ``reduce_zero_label=True`` (mmseg ``ADE20KDataset``);
- :func:`make_toy_voc` — ``VOC2007/{JPEGImages,Annotations,ImageSets/Main}`` with one xml per image (mmdet
  ``VOCDataset``);
- :func:`make_toy_dota` — ``{trainval,test}/{images,annfiles}`` (the layout of mmrotate's DOTA split tool) with
  rotated rectangles as 8 corner coordinates, the class name and the difficulty (mmrotate ``DOTADataset``);
- :func:`make_toy_star` — the same format under ``{train,test}/{images,annfiles}`` (STAR-MMRotate's layout) with
  STAR class names (mmrotate ``DOTADataset`` with STAR's classes);
- :func:`make_toy_imagenet` — ``{train,val}/<class>/*.png`` class folders (mmpretrain ``CustomDataset``).
"""
import json
import os
import os.path as osp
from typing import Dict, List, Tuple

import cv2
import numpy as np

TOY_CLASSES = ('rectangle', 'ellipse', 'triangle')
# The names the toy STAR data give the three shapes: STAR classes (mmpetl/datasets/star.py) with underscores, so that
# a test sees multi-word names parsed whole. Rectangle, ellipse, triangle in this order.
TOY_STAR_CLASSES = ('truck_parking', 'cooling_tower', 'cement_concrete_pavement')


def _shape_polygon(rng: np.random.Generator, label: int, size: int, rotated: bool = False) -> np.ndarray:
    """A polygon (K, 2) of class ``label`` lying inside a ``size`` x ``size`` image."""
    w, h = rng.uniform(0.2, 0.45, size=2) * size
    if TOY_CLASSES[label] == 'rectangle':
        pts = np.array([(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)])
    elif TOY_CLASSES[label] == 'ellipse':
        t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        pts = np.stack([w / 2 * np.cos(t), h / 2 * np.sin(t)], axis=1)
    else:
        pts = np.array([(0, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)])
    if rotated:
        angle = rng.uniform(-np.pi / 2, np.pi / 2)
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        pts = pts @ rot.T
    half = np.abs(pts).max(axis=0)
    center = rng.uniform(half, size - half)
    return pts + center


def _polygon_area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return float(0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def _make_image(rng: np.random.Generator, size: int, max_objects: int, rotated: bool = False,
                labels: List[int] = None, outline: bool = False) -> Tuple[np.ndarray, np.ndarray, List[Dict]]:
    """An image (H, W, 3) uint8, its label map (H, W) uint8 (0 background, class + 1 inside shapes, later shapes on
    top), and the drawn objects (label, polygon). ``outline``: the shapes are drawn as 2 px outlines, not filled."""
    image = rng.integers(0, 60, size=(size, size, 3), dtype=np.uint8)
    label_map = np.zeros((size, size), dtype=np.uint8)
    if labels is None:
        labels = [int(rng.integers(len(TOY_CLASSES))) for _ in range(int(rng.integers(1, max_objects + 1)))]
    objects = []
    for label in labels:
        poly = _shape_polygon(rng, label, size, rotated)
        color = tuple(int(c) for c in rng.integers(100, 256, size=3))
        points = [np.round(poly).astype(np.int32)]
        if outline:
            cv2.polylines(image, points, True, color, thickness=2)
        else:
            cv2.fillPoly(image, points, color)
        cv2.fillPoly(label_map, points, label + 1)
        objects.append(dict(label=label, polygon=poly))
    return image, label_map, objects


def _write_lines(path: str, lines: List[str]) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def make_toy_coco(root: str, num_train: int = 16, num_val: int = 8, size: int = 128, max_objects: int = 3,
                  seed: int = 0) -> Dict[str, str]:
    """COCO instance segmentation under ``root``: ``{train,val}/*.png``, ``annotations/instances_{train,val}.json``.

    Returns the annotation paths by split.
    """
    rng = np.random.default_rng(seed)
    categories = [dict(id=i + 1, name=name, supercategory='shape') for i, name in enumerate(TOY_CLASSES)]
    paths = {}
    for split, num in (('train', num_train), ('val', num_val)):
        images, annotations = [], []
        os.makedirs(osp.join(root, split), exist_ok=True)
        for img_id in range(1, num + 1):
            image, _, objects = _make_image(rng, size, max_objects)
            file_name = f'{split}_{img_id:04d}.png'
            cv2.imwrite(osp.join(root, split, file_name), image)
            images.append(dict(id=img_id, file_name=file_name, width=size, height=size))
            for obj in objects:
                poly = obj['polygon']
                x0, y0 = poly.min(axis=0)
                x1, y1 = poly.max(axis=0)
                annotations.append(dict(
                    id=len(annotations) + 1, image_id=img_id, category_id=obj['label'] + 1,
                    bbox=[round(float(v), 2) for v in (x0, y0, x1 - x0, y1 - y0)],
                    area=round(_polygon_area(poly), 2), iscrowd=0,
                    segmentation=[[round(float(v), 2) for v in poly.reshape(-1)]]))
        ann_file = osp.join(root, 'annotations', f'instances_{split}.json')
        os.makedirs(osp.dirname(ann_file), exist_ok=True)
        with open(ann_file, 'w') as f:
            json.dump(dict(images=images, annotations=annotations, categories=categories), f)
        paths[split] = ann_file
    return paths


def make_toy_ade20k(root: str, num_train: int = 16, num_val: int = 8, size: int = 128, max_objects: int = 3,
                    seed: int = 0) -> None:
    """ADE20K-style semantic segmentation: ``images/{training,validation}/*.jpg`` and
    ``annotations/{training,validation}/*.png`` (0 = background, ignored with ``reduce_zero_label=True``; class k
    is stored as k + 1)."""
    rng = np.random.default_rng(seed)
    for split, num in (('training', num_train), ('validation', num_val)):
        for folder in ('images', 'annotations'):
            os.makedirs(osp.join(root, folder, split), exist_ok=True)
        for i in range(num):
            image, label_map, _ = _make_image(rng, size, max_objects)
            name = f'ADE_{split}_{i:08d}'
            cv2.imwrite(osp.join(root, 'images', split, name + '.jpg'), image)
            cv2.imwrite(osp.join(root, 'annotations', split, name + '.png'), label_map)


def make_toy_voc(root: str, num_trainval: int = 16, num_test: int = 8, size: int = 128, max_objects: int = 3,
                 seed: int = 0) -> None:
    """Pascal VOC detection under ``root`` (a VOCdevkit): ``VOC2007/JPEGImages/*.jpg``, ``VOC2007/Annotations/*.xml``
    and ``VOC2007/ImageSets/Main/{trainval,test}.txt``."""
    rng = np.random.default_rng(seed)
    voc = osp.join(root, 'VOC2007')
    os.makedirs(osp.join(voc, 'JPEGImages'), exist_ok=True)
    os.makedirs(osp.join(voc, 'Annotations'), exist_ok=True)
    index = 0
    for split, num in (('trainval', num_trainval), ('test', num_test)):
        ids = []
        for _ in range(num):
            index += 1
            img_id = f'{index:06d}'
            image, _, objects = _make_image(rng, size, max_objects)
            cv2.imwrite(osp.join(voc, 'JPEGImages', img_id + '.jpg'), image)
            xml_objects = []
            for obj in objects:
                # VOC boxes are 1-based pixel indices
                x0, y0 = np.clip(np.floor(obj['polygon'].min(axis=0)) + 1, 1, size)
                x1, y1 = np.clip(np.ceil(obj['polygon'].max(axis=0)) + 1, 1, size)
                xml_objects.append(
                    f'  <object><name>{TOY_CLASSES[obj["label"]]}</name><pose>Unspecified</pose>'
                    f'<truncated>0</truncated><difficult>0</difficult><bndbox><xmin>{int(x0)}</xmin>'
                    f'<ymin>{int(y0)}</ymin><xmax>{int(x1)}</xmax><ymax>{int(y1)}</ymax></bndbox></object>')
            _write_lines(osp.join(voc, 'Annotations', img_id + '.xml'), [
                '<annotation>', '  <folder>VOC2007</folder>', f'  <filename>{img_id}.jpg</filename>',
                f'  <size><width>{size}</width><height>{size}</height><depth>3</depth></size>',
                '  <segmented>0</segmented>', *xml_objects, '</annotation>'])
            ids.append(img_id)
        _write_lines(osp.join(voc, 'ImageSets', 'Main', split + '.txt'), ids)


def _write_toy_dota_style(root: str, splits: Tuple[Tuple[str, int], ...], names: Tuple[str, ...], size: int,
                          max_objects: int, seed: int) -> None:
    """``<split>/images/*.png`` and ``<split>/annfiles/*.txt`` with one line ``x1 y1 x2 y2 x3 y3 x4 y4 class
    difficulty`` per rotated rectangle (every shape is annotated by its minimum-area rotated rectangle, as DOTA
    annotates objects); the toy class k is written as ``names[k]``. Images are P0000... in the first split, T0000...
    in the others."""
    rng = np.random.default_rng(seed)
    for index, (split, num) in enumerate(splits):
        os.makedirs(osp.join(root, split, 'images'), exist_ok=True)
        for i in range(num):
            image, _, objects = _make_image(rng, size, max_objects, rotated=True)
            name = f'P{i:04d}' if index == 0 else f'T{i:04d}'
            cv2.imwrite(osp.join(root, split, 'images', name + '.png'), image)
            lines = []
            for obj in objects:
                corners = cv2.boxPoints(cv2.minAreaRect(obj['polygon'].astype(np.float32)))
                coords = ' '.join(f'{v:.1f}' for v in corners.reshape(-1))
                lines.append(f'{coords} {names[obj["label"]]} 0')
            _write_lines(osp.join(root, split, 'annfiles', name + '.txt'), lines)


def make_toy_dota(root: str, num_trainval: int = 16, num_test: int = 8, size: int = 128, max_objects: int = 3,
                  seed: int = 0) -> None:
    """DOTA-v1.0-style oriented detection: ``{trainval,test}/images/*.png`` and ``{trainval,test}/annfiles/*.txt``
    (the layout of mmrotate's split tool), the toy classes by name."""
    _write_toy_dota_style(root, (('trainval', num_trainval), ('test', num_test)), TOY_CLASSES, size, max_objects, seed)


def make_toy_star(root: str, num_train: int = 16, num_test: int = 8, size: int = 128, max_objects: int = 3,
                  seed: int = 0) -> None:
    """STAR-style oriented detection: the DOTA format under ``{train,test}/{images,annfiles}`` (STAR-MMRotate's
    layout), the three toy shapes named by :data:`TOY_STAR_CLASSES`, three of STAR's 48 classes."""
    _write_toy_dota_style(root, (('train', num_train), ('test', num_test)), TOY_STAR_CLASSES, size, max_objects, seed)


def make_toy_imagenet(root: str, num_train: int = 8, num_val: int = 4, size: int = 64, seed: int = 0,
                      styles: Tuple[str, ...] = ('filled', )) -> List[str]:
    """ImageNet-style classification: ``{train,val}/<class>/*.png``, ``num_*`` images per class, one shape each.

    With one style the classes are the shapes (``rectangle``, ...); with ``styles=('filled', 'outline')`` they are
    the six (shape, style) pairs (``rectangle_filled``, ``rectangle_outline``, ...). Returns the class names.
    """
    unknown = sorted(set(styles) - {'filled', 'outline'})
    if unknown or not styles:
        raise ValueError(f'make_toy_imagenet: styles must be some of filled, outline; got {styles!r}')
    classes = [(label, style, name if len(styles) == 1 else f'{name}_{style}')
               for label, name in enumerate(TOY_CLASSES) for style in styles]
    rng = np.random.default_rng(seed)
    for split, num in (('train', num_train), ('val', num_val)):
        for label, style, name in classes:
            os.makedirs(osp.join(root, split, name), exist_ok=True)
            for i in range(num):
                image, _, _ = _make_image(rng, size, 1, labels=[label], outline=style == 'outline')
                cv2.imwrite(osp.join(root, split, name, f'{name}_{i:04d}.png'), image)
    return [name for _, _, name in classes]


TOY_DATASETS = {
    'coco': make_toy_coco,
    'ade20k': make_toy_ade20k,
    'voc': make_toy_voc,
    'dota': make_toy_dota,
    'star': make_toy_star,
    'imagenet': make_toy_imagenet,
}
