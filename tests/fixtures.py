"""Test fixtures: a messy folder of images with every kind of good and bad file, and the pictures it is made of.
For the tests in this folder and the data notebooks (which add this folder to `sys.path`); not part of the package."""
import io, struct, zlib
from pathlib import Path

import numpy as np
from PIL import Image

from artgan_nb.data.abstract import abstract_image

def bomb_png():
    "A valid 1x1 PNG whose header claims 100,000 x 100,000 pixels."
    buf = io.BytesIO(); Image.new('L', (1, 1)).save(buf, 'PNG'); png = buf.getvalue()
    ihdr = struct.pack('>II', 100_000, 100_000) + png[24:29]
    return png[:16] + ihdr + struct.pack('>I', zlib.crc32(b'IHDR' + ihdr)) + png[33:]

def painting(w, h, seed=0):
    "An RGB picture of `w` x `h` pixels: a built-in abstract image stretched to that shape."
    return Image.fromarray(abstract_image(seed, 64)[0].permute(1, 2, 0).numpy()).resize((w, h))

def messy_folder(root): # where to write it (created)
    "Write a collection with every kind of good and bad file to `root`; return {file: expected reason or None}."
    root = Path(root); (root/'calm').mkdir(parents=True); (root/'loud').mkdir()
    rgba = Image.new('RGBA', (60, 60), (0, 0, 0, 0)); rgba.paste(painting(30, 30, 2), (15, 15)) # opaque centre, transparent edges
    sideways = Image.Exif(); sideways[0x0112] = 6 # EXIF orientation: rotate 90 degrees
    good = {'calm/wide.png': painting(90, 40), 'calm/tall.jpg': painting(30, 70, 1), 'calm/grey.png': painting(50, 50, 2).convert('L'),
            'calm/small.bmp': painting(20, 20, 4), 'calm/photo.webp': painting(64, 48, 5),
            'loud/transparent.png': rgba, 'loud/la.png': painting(40, 40, 6).convert('LA'), 'loud/cmyk.jpg': painting(50, 40, 7).convert('CMYK'),
            'loud/deep.tif': Image.fromarray(np.tile(np.linspace(0, 65535, 48), (48, 1)).astype(np.uint16))}
    for f,im in good.items(): im.save(root/f)
    painting(40, 40, 3).convert('P').save(root/'calm'/'palette.gif', save_all=True, append_images=[Image.new('P', (40, 40), 1)])
    clear = painting(40, 40, 10).convert('P'); clear.save(root/'loud'/'clear.png', transparency=clear.getpixel((0, 0)))
    painting(80, 40, 8).save(root/'loud'/'sideways.jpg', exif=sideways)
    painting(200, 200, 9).save(root/'loud'/'big.png')
    (root/'calm'/'empty.jpg').touch()
    (root/'calm'/'notes.png').write_text('not a picture')
    whole = (root/'calm'/'tall.jpg').read_bytes()
    (root/'loud'/'cut.jpg').write_bytes(whole[:len(whole) // 2])  # the header is intact, half the pixels are missing
    (root/'loud'/'bomb.png').write_bytes(bomb_png())
    (root/'loud'/'README.txt').write_text('a file that is not an image file')
    bad = {'calm/empty.jpg': 'empty file', 'calm/notes.png': 'not an image', 'loud/cut.jpg': 'truncated or corrupt', 'loud/bomb.png': 'too large'}
    return {**{f: None for f in [*good, 'calm/palette.gif', 'loud/clear.png', 'loud/sideways.jpg', 'loud/big.png']}, **bad}
