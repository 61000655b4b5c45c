"""
Prepare tiny Shakespeare for character-level language modeling.

Every character is a token: the vocabulary is the sorted set of characters in the text
(65 for tiny Shakespeare). The first 90% of the text is train, the last 10% val.
Writes train.bin and val.bin (np.uint16 token ids) and meta.pkl (the vocabulary).

    python data/shakespeare_char/prepare.py                  # downloads input.txt once
    python data/shakespeare_char/prepare.py --input=PATH     # or any local text file

Offline, copy a local copy first:  cp ../shared/data/tinyshakespeare/input.txt data/shakespeare_char/
"""

import argparse
import os
import pickle
import sys
import urllib.request

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
from vocab import UserError, check_writable, cli_errors, write_atomic  # noqa: E402

DATA_URL = 'https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt'
HERE = os.path.dirname(os.path.abspath(__file__))
# where the offline machines keep a copy: ../shared beside the repository
SHARED_COPY = os.path.join(HERE, '..', '..', '..', 'shared', 'data', 'tinyshakespeare', 'input.txt')


def download(url, path):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            data = r.read()
    except OSError as e:
        raise UserError(f"could not download {url} ({e}); put a local copy at {path}, "
                         f"e.g. cp {os.path.relpath(SHARED_COPY)} {os.path.relpath(path)}")
    check_writable(os.path.dirname(path) or '.')
    write_atomic(path, data)


def get_text(input_path, data_dir):
    """The text of input_path if given, else of data_dir/input.txt, downloaded once if missing."""
    if input_path is None:
        input_path = os.path.join(data_dir, 'input.txt')
        if not os.path.exists(input_path):
            print(f"downloading {DATA_URL} to {input_path}")
            download(DATA_URL, input_path)
    if not os.path.isfile(input_path):
        raise UserError(f"input file {input_path} does not exist")
    with open(input_path, 'rb') as f:
        data = f.read()
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError as e:
        raise UserError(f"{input_path} is not UTF-8 text ({e.reason} at byte {e.start})")


def split(text, train_fraction=0.9):
    n = int(len(text) * train_fraction)
    return text[:n], text[n:]


def build_vocab(text):
    chars = sorted(set(text))
    if len(chars) > 65535:  # ids must fit in uint16
        raise UserError(f"{len(chars)} distinct characters do not fit in uint16 token ids")
    stoi = {ch: i for i, ch in enumerate(chars)}
    itos = {i: ch for i, ch in enumerate(chars)}
    return stoi, itos


def write_tokens(path, ids):
    arr = np.array(ids, dtype=np.uint16)
    write_atomic(path, arr.tofile)


def write_meta(path, meta):
    write_atomic(path, pickle.dumps(meta))


def prepare(text, out_dir):
    """Encode text character by character and write train.bin, val.bin, meta.pkl to out_dir."""
    print(f"length of dataset in characters: {len(text):,}")
    stoi, itos = build_vocab(text)
    print(f"vocab size: {len(stoi):,}")
    train_text, val_text = split(text)
    train_ids = [stoi[c] for c in train_text]
    val_ids = [stoi[c] for c in val_text]
    print(f"train has {len(train_ids):,} tokens")
    print(f"val has {len(val_ids):,} tokens")
    check_writable(out_dir)
    write_tokens(os.path.join(out_dir, 'train.bin'), train_ids)
    write_tokens(os.path.join(out_dir, 'val.bin'), val_ids)
    write_meta(os.path.join(out_dir, 'meta.pkl'), {
        'vocab_size': len(stoi), 'tokenizer': 'char', 'stoi': stoi, 'itos': itos, 'special_tokens': {},
    })


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--input', default=None, help='local text file (default: input.txt in out_dir, downloaded if missing)')
    parser.add_argument('--out_dir', default=HERE, help='where train.bin, val.bin, meta.pkl go (default: this script\'s directory)')
    args = parser.parse_args(argv)
    with cli_errors():
        prepare(get_text(args.input, args.out_dir), args.out_dir)


if __name__ == '__main__':
    main()
