"""Write the single-label Pascal VOC2007 image lists that the classification configs read
(``configs/_base_/swin-l_4xb4-100e_voc2007.py``) from a standard ``VOCdevkit/VOC2007`` folder.

Example, with VOCdevkit's VOC2007 folder linked as ``data/VOC2007`` (the configs' ``data_root``)::

    python tools/data/voc2007_single_label.py data/VOC2007

reads ``data/VOC2007/ImageSets/Main/{trainval,test}.txt`` and ``data/VOC2007/Annotations/<id>.xml`` and writes
``data/VOC2007/meta/trainval.txt`` (5,011 lines) and ``data/VOC2007/meta/test.txt`` (4,952 lines), one line per image
in the order of the ImageSets list: ``<id>.jpg <label>``, the image's file name under ``JPEGImages/`` (the configs'
``data_prefix``) and its class index 0-19 in VOC's class order (mmpretrain's ``VOC.METAINFO['classes']``:
aeroplane, bicycle, ..., tvmonitor). ``--out DIR`` writes ``DIR/meta/`` instead. The files are written atomically
(a reader never sees half a list), and the number of images of each class is printed.

The label rule. The reference (Leiyi-Hu/mona, ``Swin-Transformer-Classification``) trains VOC2007 as single-label
classification: its dataset ``VOCMona`` (``mmcls/datasets/voc_mona.py``) is mmcls 0.25's ``CustomDataset`` reading
``train2mmcls.txt`` / ``test2mmcls.txt`` lists of ``<path> <label>[,<label>...]``, and its
``CustomDataset.load_annotations`` (``mmcls/datasets/custom.py``, lines 215-227) splits a line at its last space and
keeps ``int(label)``, or for a comma-separated list only the first label (``int(gt_label.split(',')[0])``). Those
lists are not published, and no code in the repository writes them, so the order of the labels on a line, and so the
class that an image with objects of several classes counts as, is unknown. This tool's rule is our reading of it: the
label of an image is the class of the FIRST ``<object>`` in its annotation xml, as a list written by walking each
xml's objects in order would give.

Difficult objects count like the others: the reference's list reader (the only code between the lists and the
model) knows nothing of difficulty, keeps every line, and needs a label on each; the repository's one reader of
``<difficult>`` is the multi-label ``VOC`` dataset (``mmcls/datasets/voc.py``), which the VOC configs do not use.
So the first object gives the label even when it is marked difficult, and every image of the split gets a line.

Exit status 2, with a message naming what is missing, when the folder is not a complete VOC2007 folder (a missing
``ImageSets/Main/<split>.txt``, ``Annotations/`` or ``JPEGImages/`` folder, or the xml or jpg of a listed image), or
when an xml has no object or an object whose class is not one of VOC's 20.
"""
import argparse
import os
import os.path as osp
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from typing import List, Sequence, Tuple

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

SPLITS = ('trainval', 'test')


class IncompleteVOC(Exception):
    """The VOC2007 folder lacks something the lists need, or an annotation cannot give a label."""


def voc_classes() -> Tuple[str, ...]:
    """VOC's 20 class names in the standard order, from mmpretrain's VOC dataset."""
    from mmpretrain.datasets import VOC
    return tuple(VOC.METAINFO['classes'])


def read_ids(voc_root: str, split: str) -> List[str]:
    """The image ids of ``ImageSets/Main/<split>.txt``."""
    path = osp.join(voc_root, 'ImageSets', 'Main', f'{split}.txt')
    if not osp.isfile(path):
        raise IncompleteVOC(f'{path} is missing (the {split} split list of VOC2007)')
    with open(path, encoding='utf-8') as file:
        return [line.strip() for line in file if line.strip()]


def first_object_label(xml_path: str, classes: Sequence[str]) -> int:
    """The class index of the first ``<object>`` of ``xml_path`` (difficult or not)."""
    try:
        objects = ET.parse(xml_path).getroot().findall('object')
    except ET.ParseError as error:
        raise IncompleteVOC(f'{xml_path}: not a readable annotation xml ({error})') from None
    if not objects:
        raise IncompleteVOC(f'{xml_path}: no <object>, so no label')
    name = (objects[0].findtext('name') or '').strip()
    if name not in classes:
        raise IncompleteVOC(f'{xml_path}: first object {name!r} is not a VOC class ({", ".join(classes)})')
    return classes.index(name)


def check_layout(voc_root: str) -> None:
    """Raise :class:`IncompleteVOC` naming every missing part of the VOC2007 layout."""
    if not osp.isdir(voc_root):
        raise IncompleteVOC(f'{voc_root} is not a folder')
    missing = [osp.join(voc_root, *part) for part in
               (('Annotations', ), ('JPEGImages', ), ('ImageSets', 'Main', 'trainval.txt'),
                ('ImageSets', 'Main', 'test.txt'))
               if not osp.exists(osp.join(voc_root, *part))]
    if missing:
        hint = ''
        if osp.isdir(osp.join(voc_root, 'VOC2007')):
            hint = f'; {voc_root} holds a VOC2007 folder: pass {osp.join(voc_root, "VOC2007")}'
        raise IncompleteVOC(f'{voc_root} is not a complete VOCdevkit/VOC2007 folder: missing '
                            f'{", ".join(missing)}{hint}')


def split_lines(voc_root: str, split: str, classes: Sequence[str]) -> List[Tuple[str, int]]:
    """``(image file name, label)`` for every image of ``split``, in the list's order."""
    ids = read_ids(voc_root, split)
    if not ids:
        raise IncompleteVOC(f'{osp.join(voc_root, "ImageSets", "Main", split + ".txt")} lists no image')
    missing_xml = [i for i in ids if not osp.isfile(osp.join(voc_root, 'Annotations', f'{i}.xml'))]
    missing_jpg = [i for i in ids if not osp.isfile(osp.join(voc_root, 'JPEGImages', f'{i}.jpg'))]
    for folder, ext, missing in (('Annotations', 'xml', missing_xml), ('JPEGImages', 'jpg', missing_jpg)):
        if missing:
            shown = ', '.join(osp.join(voc_root, folder, f'{i}.{ext}') for i in missing[:5])
            more = f' and {len(missing) - 5} more' if len(missing) > 5 else ''
            raise IncompleteVOC(f'{split}: {len(missing)} of {len(ids)} listed images have no {folder}/<id>.{ext}: '
                                f'{shown}{more}')
    return [(f'{i}.jpg', first_object_label(osp.join(voc_root, 'Annotations', f'{i}.xml'), classes)) for i in ids]


def write_list(path: str, lines: Sequence[Tuple[str, int]]) -> None:
    from mmpetl.utils.atomic import atomic_write
    with atomic_write(path, 'w', encoding='utf-8') as file:
        file.writelines(f'{name} {label}\n' for name, label in lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write meta/{trainval,test}.txt ("<id>.jpg <label 0-19>", one line per image, the label of the '
        "image's first annotated object, difficult or not) from a VOCdevkit/VOC2007 folder, for the single-label "
        'VOC2007 classification configs (mmpretrain CustomDataset).',
        epilog='example: python tools/data/voc2007_single_label.py data/VOC2007')
    parser.add_argument('voc_root', help='the VOC2007 folder (with ImageSets/Main, Annotations, JPEGImages)')
    parser.add_argument('--out', default=None,
                        help='write OUT/meta/{trainval,test}.txt (default: VOC_ROOT, where the configs read them)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    voc_root = args.voc_root
    out = args.out if args.out is not None else voc_root
    try:
        check_layout(voc_root)
        classes = voc_classes()
        results = {split: split_lines(voc_root, split, classes) for split in SPLITS}
    except IncompleteVOC as error:
        print(f'voc2007_single_label: error: {error}', file=sys.stderr)
        return 2
    meta = osp.join(out, 'meta')
    os.makedirs(meta, exist_ok=True)
    for split in SPLITS:
        write_list(osp.join(meta, f'{split}.txt'), results[split])
    width = max(len(name) for name in classes)
    print(f'{"class":<{width}}  label  ' + '  '.join(f'{split:>8}' for split in SPLITS))
    counts = {split: Counter(label for _, label in results[split]) for split in SPLITS}
    for label, name in enumerate(classes):
        print(f'{name:<{width}}  {label:>5}  ' + '  '.join(f'{counts[split][label]:>8}' for split in SPLITS))
    print(f'{"total":<{width}}         ' + '  '.join(f'{len(results[split]):>8}' for split in SPLITS))
    for split in SPLITS:
        print(f'wrote {osp.join(meta, split + ".txt")} ({len(results[split])} images)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
