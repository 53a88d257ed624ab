"""tools/data/voc2007_single_label.py: single-label VOC2007 lists (the class of each image's first object, difficult
or not) that the VOC2007 classification config reads through mmpretrain's CustomDataset."""
import os
import os.path as osp
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOL = osp.join(ROOT, 'tools', 'data', 'voc2007_single_label.py')
CONFIG = osp.join(ROOT, 'configs', '_base_', 'swin-l_4xb4-100e_voc2007.py')
VOC_CLASSES = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow', 'diningtable',
               'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor')
# the toy shapes renamed to VOC classes
RENAME = {'rectangle': 'cat', 'ellipse': 'dog', 'triangle': 'person'}


def run_tool(*args):
    return subprocess.run([sys.executable, TOOL, *map(str, args)], capture_output=True, text=True, timeout=300)


def add_object(root: ET.Element, name: str, difficult: int, index: int = None) -> None:
    obj = ET.Element('object')
    ET.SubElement(obj, 'name').text = name
    ET.SubElement(obj, 'difficult').text = str(difficult)
    box = ET.SubElement(obj, 'bndbox')
    for key, value in (('xmin', 1), ('ymin', 1), ('xmax', 20), ('ymax', 20)):
        ET.SubElement(box, key).text = str(value)
    if index is None:
        root.append(obj)
    else:
        root.insert(index, obj)


@pytest.fixture
def voc(toy, tmp_path):
    """A copy of the toy VOCdevkit's VOC2007 folder with VOC class names; the first trainval image starts with a
    difficult 'sofa' before its other objects, the second with a 'bus' before two 'train's."""
    voc = str(tmp_path / 'VOC2007')
    shutil.copytree(osp.join(toy('voc'), 'VOC2007'), voc)
    with open(osp.join(voc, 'ImageSets', 'Main', 'trainval.txt')) as f:
        first, second = [line.strip() for line in f if line.strip()][:2]
    for xml in sorted(osp.join(voc, 'Annotations', name) for name in os.listdir(osp.join(voc, 'Annotations'))):
        tree = ET.parse(xml)
        root = tree.getroot()
        for name in root.iter('name'):
            name.text = RENAME[name.text]
        image_id = osp.basename(xml)[:-4]
        if image_id == first:
            add_object(root, 'sofa', 1, index=list(root).index(root.find('object')))
        elif image_id == second:
            for obj in root.findall('object'):
                root.remove(obj)
            add_object(root, 'bus', 0)
            add_object(root, 'train', 0)
            add_object(root, 'train', 0)
        tree.write(xml)
    return voc


def first_object(voc: str, image_id: str) -> str:
    return ET.parse(osp.join(voc, 'Annotations', image_id + '.xml')).getroot().find('object').findtext('name')


def test_lists_and_custom_dataset(voc, tmp_path):
    result = run_tool(voc)
    assert result.returncode == 0, result.stderr
    lines = {}
    for split in ('trainval', 'test'):
        with open(osp.join(voc, 'ImageSets', 'Main', split + '.txt')) as f:
            ids = [line.strip() for line in f if line.strip()]
        with open(osp.join(voc, 'meta', split + '.txt')) as f:
            lines[split] = [line.rstrip('\n') for line in f]
        # one line per image, in the list's order: "<id>.jpg <label of the first object>"
        assert lines[split] == [f'{i}.jpg {VOC_CLASSES.index(first_object(voc, i))}' for i in ids]
        assert all(osp.isfile(osp.join(voc, 'JPEGImages', line.split()[0])) for line in lines[split])
    # a difficult first object gives the label; the first object wins over the more frequent class
    assert lines['trainval'][0].split()[1] == str(VOC_CLASSES.index('sofa')) == '17'
    assert lines['trainval'][1].split()[1] == str(VOC_CLASSES.index('bus')) == '5'
    # the per-class counts are reported
    assert 'sofa' in result.stdout and 'tvmonitor' in result.stdout and 'total' in result.stdout
    sofa = [row.split() for row in result.stdout.splitlines() if row.startswith('sofa ')]
    assert sofa == [['sofa', '17', '1', '0']]

    # the config's datasets read the lists and find the images, with the tool's data root layout
    cfg = Config.fromfile(CONFIG)
    from mmengine.registry import init_default_scope
    from mmpretrain.datasets import VOC
    from mmpretrain.registry import DATASETS
    init_default_scope('mmpretrain')
    assert tuple(cfg.train_dataloader.dataset.metainfo.classes) == tuple(VOC.METAINFO['classes']) == VOC_CLASSES
    for loader, split in ((cfg.train_dataloader, 'trainval'), (cfg.test_dataloader, 'test')):
        dataset = DATASETS.build(dict(loader.dataset, data_root=voc))
        assert type(dataset).__name__ == 'CustomDataset'
        assert len(dataset) == len(lines[split])
        for i, line in enumerate(lines[split]):
            name, label = line.split()
            info = dataset.get_data_info(i)
            assert info['img_path'] == osp.join(voc, 'JPEGImages', name) and info['gt_label'] == int(label)
        sample = dataset[0]  # the config's pipeline loads the image
        assert tuple(sample['inputs'].shape[1:]) == (224, 224) and sample['data_samples'].gt_label.item() == int(
            lines[split][0].split()[1])

    # --out writes the lists elsewhere, the same
    out = tmp_path / 'out'
    assert run_tool(voc, '--out', out).returncode == 0
    with open(out / 'meta' / 'trainval.txt') as f:
        assert f.read().splitlines() == lines['trainval']


def test_help():
    result = run_tool('--help')
    assert result.returncode == 0 and 'usage' in result.stdout and 'voc2007_single_label.py' in result.stdout


@pytest.mark.parametrize('remove, named', [
    ('Annotations', 'Annotations'),
    ('ImageSets/Main/test.txt', 'test.txt'),
    ('JPEGImages/000001.jpg', '000001.jpg'),
])
def test_an_incomplete_folder_exits_2_naming_what_is_missing(voc, remove, named):
    path = osp.join(voc, remove)
    shutil.rmtree(path) if osp.isdir(path) else os.remove(path)
    result = run_tool(voc)
    assert result.returncode == 2
    assert 'missing' in result.stderr or 'have no' in result.stderr
    assert named in result.stderr and osp.join(voc, remove.split('/')[0]) in result.stderr
    assert not osp.exists(osp.join(voc, 'meta'))
