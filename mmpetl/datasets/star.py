"""STAR's 48 object classes (Li et al., "STAR: A First-Ever Dataset and A Large-Scale Benchmark for Scene Graph
Generation in Large-Size Satellite Imagery", TPAMI), in the label order of the reference detection code:
github VisionXLab/STAR-MMRotate, mmrotate/datasets/star.py (``STARDataset.CLASSES``), commit
465c63f4c4ab3660968c938ede46990645560933. Written here once, in our own file.

STAR annotates objects as DOTA does, one ``x1 y1 x2 y2 x3 y3 x4 y4 class difficulty`` line per object, so mmrotate
1.x's ``DOTADataset`` reads it given ``metainfo=dict(classes=STAR_CLASSES)``. Its parser splits each line on white
space and takes the ninth field as the class name: STAR's multi-word names are joined by underscores, never by
spaces, so they come through whole.

This file is also a config snippet: ``configs/_base_/oriented-rcnn-le90_swin-b_fpn_1x_star.py`` lists it in
``_base_`` (mmengine parses it as a config file; mmpetl is not imported to read the config), reads
``_base_.STAR_CLASSES`` and deletes the helper key. Keep it a plain assignment: no imports, no functions.
"""
STAR_CLASSES = (
    'ship', 'boat', 'crane', 'goods_yard', 'tank', 'storehouse', 'breakwater', 'dock', 'airplane', 'boarding_bridge',
    'runway', 'taxiway', 'terminal', 'apron', 'gas_station', 'truck', 'car', 'truck_parking', 'car_parking', 'bridge',
    'cooling_tower', 'chimney', 'vapor', 'smoke', 'genset', 'coal_yard', 'lattice_tower', 'substation', 'wind_mill',
    'cement_concrete_pavement', 'toll_gate', 'flood_dam', 'gravity_dam', 'ship_lock', 'ground_track_field',
    'basketball_court', 'engineering_vehicle', 'foundation_pit', 'intersection', 'soccer_ball_field', 'tennis_court',
    'tower_crane', 'unfinished_building', 'arch_dam', 'roundabout', 'baseball_diamond', 'stadium',
    'containment_vessel')
