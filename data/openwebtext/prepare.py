"""
Prepare OpenWebText (or any pile of local documents) as GPT-2 BPE token streams.

Documents come from Hugging Face `datasets` (OpenWebText: ~8M documents, ~54GB in the
HF cache, ~9B tokens) or from local files given with --input: JSONL with a "text" field
per line, or .txt files holding one document each (local documents are read into memory,
so keep them modest). Each document is encoded with tiktoken's r50k_base (GPT-2's BPE)
and followed by the end-of-text token 50256, so a model sees where documents end.
A seeded shuffle holds out --val_fraction of the documents for val.
Writes train.bin and val.bin (np.uint16 token ids, ~17GB for the full set) and meta.pkl.

    python data/openwebtext/prepare.py --num_proc=8
    python data/openwebtext/prepare.py --input='mydocs/*.jsonl' --max_docs=1000
    python data/openwebtext/prepare.py --input a.jsonl b.txt c.txt

Offline: export TIKTOKEN_CACHE_DIR=../shared/tiktoken so tiktoken finds the BPE ranks.
"""

import argparse
import glob
import math
import os
import pickle
import sys

import numpy as np
from tqdm import tqdm

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
from vocab import UserError, bpe_encoding, check_writable, cli_errors, jsonl_lines, write_atomic  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
EOT = 50256  # <|endoftext|> in r50k_base


def expand_inputs(patterns):
    """Paths from a list of file names and glob patterns, in the order given."""
    paths = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern))
        if not matches:
            raise UserError(f"no input file matches {pattern}")
        paths.extend(matches)
    return paths


def read_text(path):
    with open(path, 'rb') as f:
        data = f.read()
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError as e:
        raise UserError(f"{path} is not UTF-8 text ({e.reason} at byte {e.start})")


def read_jsonl_texts(path):
    for lineno, record in jsonl_lines(path):
        if not isinstance(record, dict) or not isinstance(record.get('text'), str):
            raise UserError(f"{path} line {lineno}: expected an object with a \"text\" string")
        yield record['text']


def read_local_docs(paths, max_docs=None):
    """Documents from .jsonl (one per line) and .txt (one per file) files, at most max_docs."""
    docs = []
    for path in paths:
        if path.endswith('.jsonl'):
            texts = read_jsonl_texts(path)
        elif path.endswith('.txt'):
            texts = [read_text(path)]
        else:
            raise UserError(f"{path}: expected a .jsonl or .txt file")
        for text in texts:
            if max_docs is not None and len(docs) >= max_docs:
                return docs
            docs.append(text)
    return docs


def load_documents(paths, dataset_name, max_docs, num_proc):
    """A `datasets.Dataset` with one "text" column: local files if given, else the HF dataset."""
    if paths:
        docs = read_local_docs(paths, max_docs)  # bad files fail before the slow import
        from datasets import Dataset
        return Dataset.from_dict({'text': docs})
    from datasets import load_dataset  # imported here: it is slow to import
    try:
        dset = load_dataset(dataset_name, split='train', num_proc=num_proc)
    except Exception as e:  # mostly: no network; the cause is in e's first line
        raise UserError(f"could not load {dataset_name} ({type(e).__name__}: {str(e).splitlines()[0]}); "
                         f"without network, pass local files with --input")
    if max_docs is not None:
        dset = dset.select(range(min(max_docs, len(dset))))
    return dset.select_columns(['text'])


def split_documents(dset, val_fraction, seed):
    """Seeded shuffle, then hold out ceil(val_fraction * n) documents (at least one) as val."""
    n = len(dset)
    if n < 2:
        raise UserError(f"need at least 2 documents to make train and val, got {n}")
    n_val = min(n - 1, max(1, math.ceil(n * val_fraction)))
    split = dset.train_test_split(test_size=n_val, seed=seed, shuffle=True)
    return {'train': split['train'], 'val': split['test']}


def tokenize(splits, enc, num_proc):
    from datasets import Features, Sequence, Value
    assert enc.eot_token == EOT

    def process(example):
        ids = enc.encode_ordinary(example['text'])  # ignores special tokens written as text
        ids.append(EOT)
        return {'ids': ids, 'len': len(ids)}

    # uint16 ids: 4x less memory and cache than datasets' default int64
    features = Features({'ids': Sequence(Value('uint16')), 'len': Value('int64')})
    return {name: dset.map(process, remove_columns=['text'], features=features,
                           num_proc=num_proc if num_proc > 1 else None, desc=f'tokenizing {name}')
            for name, dset in splits.items()}


def write_split(dset, path, max_shards=1024):
    """Concatenate every document's ids into one uint16 file, shard by shard (bounded memory)."""
    import pyarrow.compute as pc
    total = pc.sum(dset.select_columns(['len']).with_format('arrow')[:]['len']).as_py()
    n_shards = min(max_shards, len(dset))

    def write(f):
        for i in tqdm(range(n_shards), desc=f'writing {os.path.basename(path)}'):
            shard = dset.shard(num_shards=n_shards, index=i, contiguous=True).with_format('arrow')
            pc.list_flatten(shard[:]['ids']).to_numpy().astype(np.uint16).tofile(f)
    write_atomic(path, write)
    return total


def main(argv=None):
    with cli_errors():
        prepare(argv)


def prepare(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--input', nargs='+', action='extend', default=None,
                        help='local .jsonl/.txt files or quoted glob patterns: --input a.jsonl b.txt, or --input=a --input=b '
                             '(default: the HF dataset)')
    parser.add_argument('--dataset', default='Skylion007/openwebtext', help='HF dataset name when no --input is given')
    parser.add_argument('--max_docs', type=int, default=None, help='use at most this many documents')
    parser.add_argument('--val_fraction', type=float, default=0.0005, help='fraction of documents held out for val')
    parser.add_argument('--seed', type=int, default=2357, help='seed of the train/val shuffle')
    parser.add_argument('--num_proc', type=int, default=max(1, (os.cpu_count() or 2) // 2), help='worker processes')
    parser.add_argument('--out_dir', default=HERE, help='where train.bin, val.bin, meta.pkl go (default: this script\'s directory)')
    args = parser.parse_args(argv)
    if not 0.0 < args.val_fraction < 1.0:
        parser.error('--val_fraction must be between 0 and 1')
    if args.max_docs is not None and args.max_docs < 2:
        parser.error('--max_docs must be at least 2 (one train and one val document)')

    paths = expand_inputs(args.input) if args.input else None  # check the cheap things first,
    enc = bpe_encoding()  # and the tokenizer before loading the documents
    check_writable(args.out_dir)
    dset = load_documents(paths, args.dataset, args.max_docs, args.num_proc)
    splits = split_documents(dset, args.val_fraction, args.seed)
    tokenized = tokenize(splits, enc, args.num_proc)
    for name, dset in tokenized.items():
        total = write_split(dset, os.path.join(args.out_dir, f'{name}.bin'))
        print(f"{name} has {len(dset):,} documents, {total:,} tokens")
    meta = {'vocab_size': 50257, 'tokenizer': 'r50k_base', 'special_tokens': {}}
    write_atomic(os.path.join(args.out_dir, 'meta.pkl'), pickle.dumps(meta))


if __name__ == '__main__':
    main()
