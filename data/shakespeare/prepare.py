"""
Prepare tiny Shakespeare with GPT-2's BPE (tiktoken's r50k_base, byte-for-byte GPT-2).

Same text and same 90/10 split as data/shakespeare_char, whose download and file
helpers this script reuses. Writes train.bin and val.bin (np.uint16 token ids) and meta.pkl.

    python data/shakespeare/prepare.py                  # downloads input.txt once
    python data/shakespeare/prepare.py --input=PATH     # or any local text file

Offline: cp ../shared/data/tinyshakespeare/input.txt data/shakespeare/
and export TIKTOKEN_CACHE_DIR=../shared/tiktoken so tiktoken finds the BPE ranks.
"""

import argparse
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..'))
from vocab import bpe_encoding, check_writable, cli_errors  # noqa: E402


def load_char_prepare():
    """data/shakespeare_char/prepare.py as a module: one copy of the download/split/write code."""
    path = os.path.join(HERE, '..', 'shakespeare_char', 'prepare.py')
    spec = importlib.util.spec_from_file_location('shakespeare_char_prepare', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


char = load_char_prepare()


def prepare(text, out_dir):
    """Encode text with GPT-2 BPE and write train.bin, val.bin, meta.pkl to out_dir."""
    enc = bpe_encoding()
    # split the text first, then encode each part, so no token straddles the boundary
    train_text, val_text = char.split(text)
    train_ids = enc.encode_ordinary(train_text)
    val_ids = enc.encode_ordinary(val_text)
    print(f"train has {len(train_ids):,} tokens")
    print(f"val has {len(val_ids):,} tokens")
    check_writable(out_dir)
    char.write_tokens(os.path.join(out_dir, 'train.bin'), train_ids)
    char.write_tokens(os.path.join(out_dir, 'val.bin'), val_ids)
    char.write_meta(os.path.join(out_dir, 'meta.pkl'),
                    {'vocab_size': enc.n_vocab, 'tokenizer': 'r50k_base', 'special_tokens': {}})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--input', default=None, help='local text file (default: input.txt in out_dir, downloaded if missing)')
    parser.add_argument('--out_dir', default=HERE, help='where train.bin, val.bin, meta.pkl go (default: this script\'s directory)')
    args = parser.parse_args(argv)
    with cli_errors():
        prepare(char.get_text(args.input, args.out_dir), args.out_dir)


if __name__ == '__main__':
    main()
