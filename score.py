"""
Answers of a checkpoint on task records, scored: each prompt is continued greedily and the
answer read from the completion (vocab.parse_answer: the first line, after the last marker;
for a chain that ends '#### answer', vocab.final_answer, compared as numbers) must equal the
record's 'answer'. For a choice among a few answers (3SUM's True/False) the
accuracy per answer too, and how many completions gave none of them.

    python score.py out-3sum data/3sum/test.jsonl    # accuracy, and per answer: True, False
    python score.py out-pause data/addition_pause/test.jsonl --json
    python score.py out-arith data/arith2/val.jsonl --steps   # and each reasoning step, earlier ones given
"""

import argparse
import json
import os
import re
import sys
from collections import defaultdict

import torch

from configurator import pick_device
from train import load_checkpoint, model_from_checkpoint
from vocab import (END_THOUGHT, START_THOUGHT, THINK_CLOSE, Tokenizer, UserError, cli_errors, final_answer,
                   normalize_number, parse_answer, read_jsonl, render)


def same_length_batches(lengths, batch_size):
    """Indices of the rows, grouped by length in chunks of at most batch_size: rows of one
    length go in one batch with no padding (the task prompts here all have one length)."""
    by_length = defaultdict(list)
    for k, n in enumerate(lengths):
        by_length[n].append(k)
    for ks in by_length.values():
        for s in range(0, len(ks), batch_size):
            yield ks[s:s + batch_size]


@torch.no_grad()
def greedy_completions(model, prompts, max_new_tokens, batch_size=64, device='cpu'):
    """The greedy continuation (ids) of every prompt (a list of ids)."""
    out = [None] * len(prompts)
    for chunk in same_length_batches(map(len, prompts), batch_size):
        x = torch.tensor([prompts[k] for k in chunk], dtype=torch.long, device=device)
        y = model.generate(x, max_new_tokens, temperature=0)[:, x.size(1):].tolist()
        for k, row in zip(chunk, y):
            out[k] = row
    return out


MAX_ANSWER_CLASSES = 10  # more distinct answers than this (sums, numbers) are not a choice among classes


def is_chain(record):
    """A completion of reasoning lines, then '#### answer' (the arithmetic and GSM8K records)."""
    return '####' in record['completion'] or THINK_CLOSE in record['completion']


WRITTEN_THOUGHT = re.compile(re.escape(START_THOUGHT) + '.*?' + re.escape(END_THOUGHT), re.S)


def predicted_answer(text, record, marker):
    """The answer of a generated text: vocab.final_answer (a number) for a chain, else
    parse_answer, a thought written out between Quiet-STaR's markers left out (a model
    pre-trained on chains as thoughts may write one: =<startofthought>cd<endofthought>a)."""
    return final_answer(text) if is_chain(record) else parse_answer(WRITTEN_THOUGHT.sub('', text), marker)


def keep_filler(prompt, k, marker='='):
    """The prompt with only the first k of the filler dots before its final marker: Pfau et
    al.'s truncation (the answer forced after fewer dots). A prompt with no dots is unchanged."""
    body = prompt[:-len(marker)] if prompt.endswith(marker) else prompt
    start = len(body.rstrip('.'))
    return body[:start] + body[start:start + k] + prompt[len(body):]


PUNCTUATION = ('+', '-', '.')  # a chain's marks and the filler, apart from its other tokens


@torch.no_grad()
def forced_accuracy(model, tok, records, marker='=', batch_size=64, device='cpu'):
    """Teacher-forced accuracy of each record's completion: the share of its tokens that are the
    model's likeliest next token, the whole completion given. 'body' is what comes before the
    completion's last marker (a chain of thought, the dots), split into punctuation ('+', '-',
    '.') and the other tokens; 'answer' the share of records whose every token after the marker
    is right, its final newline too (so it can differ from the greedy accuracy, which parses
    the answer only). The marker itself is not scored. A split absent from every record is left
    out."""
    punctuation = {tok.stoi[c] for c in PUNCTUATION if c in tok.stoi} if tok.kind == 'char' else \
        {i for c in PUNCTUATION for i in tok.encode(c)}
    n_marker = len(tok.encode(marker))
    right, count, rows = defaultdict(int), defaultdict(int), []
    for n, r in enumerate(records, 1):
        ids, prompt = tok.encode(r['prompt'] + r['completion']), tok.encode(r['prompt'])
        if ids[:len(prompt)] != prompt:
            raise UserError(f"record {n}: its prompt and completion merge into other tokens; --forced needs "
                            f"completions that start a new token")
        at = r['completion'].rfind(marker)  # -1: no marker, the whole completion is the answer
        n_body = len(tok.encode(r['completion'][:at])) if at >= 0 else 0
        rows.append((ids, len(prompt), n_body, n_marker if at >= 0 else 0))
    for chunk in same_length_batches([len(ids) for ids, *_ in rows], batch_size):
        x = torch.tensor([rows[k][0] for k in chunk], dtype=torch.long, device=device)
        hit = (model(x)[0][:, :-1].argmax(-1) == x[:, 1:]).tolist()
        for (ids, n_prompt, n_body, skip), row in zip((rows[k] for k in chunk), hit):
            for k in range(n_prompt, n_prompt + n_body):
                kind = 'body_punctuation' if ids[k] in punctuation else 'body_other'
                count['body'] += 1
                count[kind] += 1
                right['body'] += row[k - 1]
                right[kind] += row[k - 1]
            count['answer'] += 1
            right['answer'] += all(row[k - 1] for k in range(n_prompt + n_body + skip, len(ids)))
    return {k: right[k] / count[k] for k in sorted(count)}


@torch.no_grad()
def chosen_answers(model, tok, records, batch_size=64, device='cpu'):
    """A choice among the split's few answers (3SUM's True/False): per record the answer whose
    tokens right after the prompt the model finds likeliest (summed log-probabilities), as
    Pfau et al. compare the final True/False. Nothing is generated, so a prompt the model never
    saw in training (fewer dots) still gets one of the answers."""
    classes = sorted({r['answer'] for r in records})
    if len(classes) > MAX_ANSWER_CLASSES:
        raise UserError(f"--choose picks among a few answers; this split has {len(classes)} distinct ones")
    scores = torch.empty(len(records), len(classes))
    prompts = [tok.encode(r['prompt']) for r in records]
    chunks = list(same_length_batches(map(len, prompts), batch_size))
    for j, answer in enumerate(classes):
        end = tok.encode(answer)
        for chunk in chunks:
            n_prompt = len(prompts[chunk[0]])
            x = torch.tensor([prompts[k] + end for k in chunk], dtype=torch.long, device=device)
            logp = torch.log_softmax(model(x)[0][:, n_prompt - 1:-1].float(), dim=-1)
            scores[chunk, j] = logp.gather(-1, x[:, n_prompt:, None])[..., 0].sum(1).cpu()
    return [classes[j] for j in scores.argmax(1).tolist()]


def answer_accuracy(out_dir, split_path, marker='=', limit=0, batch_size=64, device='cpu', steps=False,
                    forced=False, filler=None, choose=False):
    """Accuracy of out_dir/ckpt.pt on the records of a jsonl split: each prompt is continued
    greedily (at most as many tokens as the longest reference completion, plus 2) and the
    answer parsed from it (parse_answer) must equal the record's 'answer' field. For 3SUM test
    splits the prompt runs up to '=' (filler and pauses given, as Pfau et al. evaluate), so the
    first generated word is the final True/False. steps: also step_accuracy; forced: also
    forced_accuracy; filler=k: only the first k filler dots of each prompt (keep_filler);
    choose: the answer is chosen_answers', not generated."""
    if batch_size <= 0 or limit < 0 or not marker or (filler is not None and filler < 0):
        raise UserError(f"need --batch_size > 0, --limit >= 0, a non-empty --marker and --filler >= 0, got "
                        f"{batch_size}, {limit}, {marker!r}, {filler}")
    device = pick_device(device)
    ckpt = load_checkpoint(os.path.join(out_dir, 'ckpt.pt'))
    model = model_from_checkpoint(ckpt).eval().to(device)
    tok = Tokenizer(ckpt['meta'])
    if not os.path.exists(split_path):
        raise UserError(f"no split at {split_path}")
    records = read_jsonl(split_path)
    records = records[:limit] if limit else records
    for n, r in enumerate(records, 1):
        if not isinstance(r, dict) or not all(isinstance(r.get(k), str) for k in ('prompt', 'completion', 'answer')):
            raise UserError(f"{split_path} record {n} needs string fields prompt, completion and answer")
    if not records:
        raise UserError(f"{split_path} holds no records")
    if filler is not None:
        if not any(r['prompt'].endswith('.' + marker) for r in records):
            raise UserError(f"--filler needs prompts that end in filler dots and {marker!r} (a filler test split); "
                            f"{split_path} has none")
        records = [dict(r, prompt=keep_filler(r['prompt'], filler, marker)) for r in records]
    if choose:
        predictions = chosen_answers(model, tok, records, batch_size, device)
    else:
        prompts = [tok.encode(r['prompt']) for r in records]
        max_new = max(len(tok.encode(r['completion'])) for r in records) + 2
        completions = greedy_completions(model, prompts, max_new, batch_size, device)
        predictions = [predicted_answer(render(ids, tok, mode='plain'), r, marker) for r, ids in zip(records, completions)]
    right, count = defaultdict(int), defaultdict(int)
    for r, pred in zip(records, predictions):
        count[r['answer']] += 1
        right[r['answer']] += pred == (normalize_number(r['answer']) if is_chain(r) else r['answer'])
    correct = sum(right.values())
    result = {'accuracy': correct / len(records), 'correct': correct, 'n': len(records), 'predictions': predictions}
    if steps:
        result['step_accuracy'] = step_accuracy(model, tok, records, batch_size, device)
    if forced:
        result['forced'] = forced_accuracy(model, tok, records, marker, batch_size, device)
    if len(count) <= MAX_ANSWER_CLASSES:  # a choice among a few answers (3SUM's True/False): per answer
        result.update(by_answer={a: right[a] / count[a] for a in sorted(count)},
                      unparsed=sum(p not in count for p in predictions))
    return result


def step_prefixes(record, n):
    """For each of record n's 'steps': the prompt and its completion up to that step's line."""
    text, prefixes, start = record['prompt'] + record['completion'], [], len(record['prompt'])
    for k, line in enumerate(record['steps'], 1):
        at = text.find('\n' + line + '\n', start - 1)
        if at < 0:
            raise UserError(f"record {n}'s step {k} ({line!r}) is not a line of its completion")
        prefixes.append(text[:at + 1])
        start = at + 1 + len(line)
    return prefixes


def step_accuracy(model, tok, records, batch_size=64, device='cpu'):
    """Per reasoning step k of records with a 'steps' list (each a line of the completion): the
    share of records whose step k the model writes exactly, greedily to the end of its line,
    given the prompt and the record's own completion up to that step. Which step fails, with
    every earlier one right; a change of one step's share is a change of that skill."""
    prefixes = [step_prefixes(r, n) for n, r in enumerate(records, 1)]
    if not all(prefixes):
        raise UserError("--steps needs records with a non-empty 'steps' list")
    jobs = [(n, k) for n, p in enumerate(prefixes) for k in range(len(p))]
    max_new = max(len(tok.encode(line)) for r in records for line in r['steps']) + 1
    completions = greedy_completions(model, [tok.encode(prefixes[n][k]) for n, k in jobs], max_new, batch_size, device)
    right, count = defaultdict(int), defaultdict(int)
    for (n, k), ids in zip(jobs, completions):
        count[k] += 1
        right[k] += render(ids, tok, mode='plain').split('\n')[0] == records[n]['steps'][k]
    return [right[k] / count[k] for k in sorted(count)]


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('out_dir')
    p.add_argument('split', help='a .jsonl file with prompt, completion, answer')
    p.add_argument('--marker', default='=', help="the answer follows the last marker ('=' for 3SUM)")
    p.add_argument('--limit', type=int, default=0, help='first N records only')
    p.add_argument('--batch_size', type=int, default=64)
    p.add_argument('--device', default='cpu')
    p.add_argument('--steps', action='store_true', help="also each reasoning step's accuracy, earlier steps given")
    p.add_argument('--forced', action='store_true',
                   help='also the teacher-forced accuracy of the completion: its chain of thought, its answer')
    p.add_argument('--filler', type=int, default=None,
                   help="keep only the first K filler dots before each prompt's final marker (the truncation curve)")
    p.add_argument('--choose', action='store_true',
                   help="pick the likeliest of the split's few answers (True/False) instead of generating one")
    p.add_argument('--json', action='store_true', help='print the result as one JSON object')
    args = p.parse_args(argv)
    with cli_errors():
        r = answer_accuracy(args.out_dir, args.split, args.marker, args.limit, args.batch_size, args.device, args.steps,
                            args.forced, args.filler, args.choose)
        if args.json:
            print(json.dumps({k: v for k, v in r.items() if k != 'predictions'}))
        else:
            line = f"accuracy {r['accuracy']:.4f} ({r['correct']}/{r['n']})"
            if 'by_answer' in r:
                parts = ', '.join(f"{a} {acc:.3f}" for a, acc in r['by_answer'].items())
                line += f"; by answer: {parts}; unparsed {r['unparsed']}"
            if 'step_accuracy' in r:
                line += '; steps (earlier ones given): ' + ', '.join(f"{k} {a:.4f}" for k, a in enumerate(r['step_accuracy'], 1))
            if 'forced' in r:
                line += '; teacher forced: ' + ', '.join(f"{k} {a:.4f}" for k, a in r['forced'].items())
            print(line)


if __name__ == '__main__':
    main(sys.argv[1:])
