"""
Coconut (Hao et al. 2024, "Training Large Language Models to Reason in a Continuous Latent
Space"): the model reasons in its own hidden states instead of words. Between <bot> and
<eot>, the input embedding of every <latent> is replaced by the last hidden state (after
the final LayerNorm) at the position before it, a "continuous thought":

    question <bot> <latent> <latent> <latent> <eot> answer
                  h_bot -^    h_1 -^    h_2 -^

A latent needs the state before it, so n latents cost n+1 sequential passes. The KV cache
holds everything computed so far: a pass processes only the positions up to the next
latent, and gradients flow back through the whole chain (the cache concatenates, so every
pass keeps its graph). Rows of a batch are aligned on their first latent by left padding
(masked out), so latents at different positions still take about n+1 passes; any layout
is exact, an unaligned one only takes more passes.

The curriculum turns chain-of-thought records (question, steps, answer) into stages:
stage k replaces the first k steps by k*c latents; the last stage (max_stage) replaces
every step by max_stage*c latents. The question, <bot>, the latents and <eot> are the
record's prompt, so train.py takes no loss on them. Each stage is one train.py run,
started from the previous stage's weights (a fresh optimizer, as in the paper), or one run
resumed stage after stage (reset_optimizer=False); mix_prob gives a training record a
random stage instead. The same command trains the baselines: 'cot' (all steps as text),
'nocot' (answer only), 'pause' (the latents replaced by as many <pause> tokens, same
curriculum) and Coconut without the curriculum (first_stage=max_stage).

    python data/prosqa/prepare.py
    python coconut.py curriculum config/coconut_prosqa.py                     # stages 0..max_stage
    python coconut.py curriculum config/coconut_prosqa.py --arm=cot --out_dir=out-coconut-cot
    python coconut.py curriculum config/coconut_prosqa.py --dataset=gsm8k --steps_key=equations \
        --eval_split=val --block_size=1024 --c=2 --out_dir=out-coconut-gsm8k  # steps: the <<..>> equations
    python coconut.py curriculum config/coconut_prosqa.py --data_dir=DIR ...  # DIR: the official *_train.json,
        # *_valid.json, *_test.json (question, answer, steps: ProsQA, ProntoQA, GSM8K), a character vocabulary
    python coconut.py eval out-coconut/stage3 out-coconut/data/stage3/test.jsonl
    python coconut.py probe out-coconut/stage3 data/prosqa/test.jsonl --latents=3   # a search frontier?
    python plot.py out-coconut*/stages.jsonl --figure=coconut
    python plot.py out-coconut*/stages.jsonl --out=assets/coconut_stages.png --figure=coconut
    python sample.py --out_dir=out-coconut/stage3 --temperature=0 --start=FILE:q.txt   # question<bot><latent>x3<eot>

The curriculum's keys (CURRICULUM below) are config keys like train.py's: in the config file
or as --key=value.
"""

import argparse
import json
import os
import pickle
import random
import sys
import time
from dataclasses import dataclass

import torch

import vocab
from model import GPT, GPTConfig, left_pad, lm_loss, pad_positions, sample_token
from configurator import check_ranges, load_config, pick_device
from train import load_checkpoint, model_from_checkpoint, train
from vocab import Tokenizer, UserError, check_writable, cli_errors, default_data_dir, load_meta, read_jsonl

ROOT = os.path.dirname(os.path.abspath(__file__))


@dataclass
class CoconutConfig(GPTConfig):
    # the markers' ids: train.py fills them from the dataset's meta.pkl
    bot_id: int = -1  # the ids of <bot>, <latent>, <eot>: train.py fills them
    latent_id: int = -1
    eot_id: int = -1

    def __post_init__(self):
        super().__post_init__()
        if min(self.bot_id, self.latent_id, self.eot_id) < 0:
            raise ValueError("bot_id, latent_id and eot_id must be set (train.py sets them from the dataset's meta.pkl)")


class CoconutGPT(GPT):
    """forward(idx, targets) -> (logits (B, T, V) aligned with idx, loss). Every <latent> in
    idx takes the hidden state before it as its input; no loss predicts a <latent>. Without
    latents it is exactly the GPT."""
    config_class = CoconutConfig
    special_tokens = {'bot_id': vocab.BOT, 'latent_id': vocab.LATENT, 'eot_id': vocab.EOT}

    def __init__(self, config):
        super().__init__(config)
        if max(config.bot_id, config.latent_id, config.eot_id) >= config.vocab_size:
            raise ValueError(f"the marker ids must be in the vocabulary of {config.vocab_size}")

    def aligned(self, idx, lengths, shift):
        """Row b of idx (its first lengths[b] tokens) moved right by shift[b]: the tokens,
        their positions and which slots are real, each (B, L)."""
        L = int((shift + lengths).max())
        src = torch.arange(L, device=idx.device) - shift[:, None]
        valid = (src >= 0) & (src < lengths[:, None])
        src = src.clamp(0, idx.size(1) - 1)
        return idx.gather(1, src), src, valid

    def pass_mask(self, valid, start, end):
        """(B, 1, end-start, end): queries start..end-1 see the real keys up to themselves; a
        padding query sees itself (a row with no key at all would give NaN)."""
        q = torch.arange(start, end, device=valid.device)[:, None]
        k = torch.arange(end, device=valid.device)[None]
        return ((k <= q) & (valid[:, None, :end] | (k == q)))[:, None]

    def think(self, x, pos, valid, cache):
        """Final hidden states (after ln_f, (B, L, C)) of aligned rows. A pass ends before every
        position where some row has a latent; that row's latent then gets the last state of
        the pass. A latent at position 0 has no state before it and keeps its embedding."""
        is_latent = (x == self.config.latent_id) & valid
        tok = self.transformer.wte(x)
        cuts = [p for p in is_latent.any(0).nonzero().flatten().tolist() if p > 0]
        bounds = [0] + cuts + [x.size(1)]
        states, h_last = [], None
        for start, end in zip(bounds, bounds[1:]):
            t = tok[:, start:end]
            if start > 0:
                first = torch.where(is_latent[:, start, None], h_last, t[:, 0])
                t = torch.cat([first[:, None], t[:, 1:]], dim=1)
            h = self.transformer.drop(t + self.transformer.wpe(pos[:, start:end]))
            h = self.transformer.ln_f(self.blocks(h, self.pass_mask(valid, start, end), cache))
            states.append(h)
            h_last = h[:, -1]
        return torch.cat(states, dim=1)

    def forward(self, idx, targets=None):
        B, T = idx.shape
        if T > self.config.block_size:
            raise ValueError(f"sequence of {T} tokens is longer than block_size {self.config.block_size}")
        if targets is not None:  # a latent's input is a hidden state: nothing predicts it
            targets = targets.masked_fill(targets == self.config.latent_id, -1)
        is_latent = idx == self.config.latent_id
        if not is_latent.any():
            return super().forward(idx, targets)
        has = is_latent.any(1)
        first = is_latent.int().argmax(1)
        shift = torch.where(has, first[has].max() - first, 0)  # first latents in one column
        x, pos, valid = self.aligned(idx, torch.full_like(shift, T), shift)
        h = self.think(x, pos, valid, self.new_pass_cache(B, x.size(1)))
        h = h.gather(1, (torch.arange(T, device=idx.device) + shift[:, None])[..., None].expand(-1, -1, h.size(-1)))
        logits = self.lm_head(h)
        return logits, None if targets is None else lm_loss(logits, targets)

    @torch.no_grad()
    def explain(self, idx, n_top=3):
        """The logits, and at every <latent> its thought: the top n_top tokens of the output
        head read on the hidden state that is the latent's input (the state just before it).
        A latent is never trained to be a token: this shows what the head makes of it."""
        logits = self(idx)[0]
        before = torch.cat([logits[:, :1], logits[:, :-1]], dim=1)  # position t: the state at t-1
        top = before.topk(n_top, dim=-1).indices
        is_latent = (idx == self.config.latent_id) & (torch.arange(idx.size(1), device=idx.device) > 0)
        return {'logits': logits, 'thoughts': top.masked_fill(~is_latent[..., None], -1), 'thought_join': '|'}

    @torch.no_grad()
    def complete(self, prompts, max_new_tokens, temperature=1.0, top_k=None):
        """Continue prompts (lists of ids, any lengths, latents anywhere) as one batch: the
        prompts end in one column (left padding), the prefill passes compute their latents,
        then one position per step through the KV cache. A generated <latent> gets its hidden
        state as input too. Returns the new ids (B, max_new_tokens)."""
        c = self.config
        x, valid = left_pad(prompts, self.lm_head.weight.device)
        T = x.size(1)
        if T + max_new_tokens - 1 > c.block_size:
            raise ValueError(f"a prompt of {T} tokens and {max_new_tokens} new ones do not fit block_size {c.block_size}")
        pos = pad_positions(valid)
        cache = self.new_cache(len(prompts), T + max_new_tokens)
        h = self.think(x, pos, valid, cache)[:, -1]
        pos, new = pos[:, -1:], []
        for step in range(max_new_tokens):
            tok = sample_token(self.lm_head(h), temperature, top_k)
            new.append(tok)
            if step == max_new_tokens - 1:
                break
            pos, valid = pos + 1, torch.cat([valid, torch.ones_like(tok, dtype=torch.bool)], dim=1)
            emb = torch.where(tok[..., None] == c.latent_id, h[:, None], self.transformer.wte(tok))
            out = self.blocks(self.transformer.drop(emb + self.transformer.wpe(pos)), valid[:, None, None], cache)
            h = self.transformer.ln_f(out[:, -1])
        return torch.cat(new, dim=1)

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
        """Continue idx (B, T): latents in it are computed first, then the text is decoded.
        The whole sequence must fit in block_size (no cropping: the latents' states would change)."""
        return torch.cat([idx, self.complete(idx.tolist(), max_new_tokens, temperature, top_k)], dim=1)


# -----------------------------------------------------------------------------
# the curriculum: records per stage

ARMS = ('coconut', 'pause', 'nothought', 'cot', 'nocot')


def stage_record(record, stage, c, max_stage, arm='coconut', steps_key='steps'):
    """(prompt, completion) of a task record {'prompt', steps_key: [...], 'answer'} at a stage:
    stage k < max_stage replaces the first k steps by c*k thoughts (<latent>, or <pause> for
    the 'pause' arm, or none for 'nothought', the paper's "w/o thought" control) between <bot>
    and <eot>; stage max_stage replaces every step, by c*max_stage thoughts. 'cot' writes
    every step, 'nocot' none. Steps end in newlines and the answer follows '####', as
    data/gsm8k writes it."""
    steps, answer = record[steps_key], f"#### {record['answer']}\n"
    if arm == 'nocot':
        return record['prompt'], answer
    if arm == 'cot':
        return record['prompt'], ''.join(s + '\n' for s in steps) + answer
    thought = {'coconut': vocab.LATENT, 'pause': vocab.PAUSE, 'nothought': ''}[arm]
    skip = len(steps) if stage >= max_stage else stage
    prompt = record['prompt'] + vocab.BOT + thought * (c * stage) + vocab.EOT
    return prompt, ''.join(s + '\n' for s in steps[skip:]) + answer


def coconut_meta(meta):
    """The task data's meta with the markers and <pause>; ids it has already are kept."""
    return vocab.add_special_tokens(meta, [vocab.BOT, vocab.LATENT, vocab.EOT, vocab.PAUSE])


def write_stage_data(out_dir, splits, meta, stage, cur, seed):
    """out_dir/{split}.jsonl at this stage and meta.pkl. With probability mix_prob a training
    record is written at a random stage instead (seeded: the same mix every time)."""
    rng = random.Random(seed * 1000 + stage)
    os.makedirs(out_dir, exist_ok=True)
    for split, records in splits.items():
        rows = []
        for r in records:
            k = stage
            if split == 'train' and cur['mix_prob'] and rng.random() < cur['mix_prob']:
                k = rng.randint(0, cur['max_stage'])
            prompt, completion = stage_record(r, k, cur['c'], cur['max_stage'], cur['arm'], cur['steps_key'])
            kept = {key: r[key] for key in ('options', 'depth') if key in r}  # ProsQA: forced choice, accuracy by depth
            rows.append({'prompt': prompt, 'completion': completion, 'answer': str(r['answer']), 'stage': k, **kept})
        vocab.write_atomic(os.path.join(out_dir, f'{split}.jsonl'), ''.join(json.dumps(r) + '\n' for r in rows).encode())
    vocab.write_atomic(os.path.join(out_dir, 'meta.pkl'), pickle.dumps(meta))


# -----------------------------------------------------------------------------
# evaluation: the answer after the thoughts, and what it cost

def read_answer(ids, tok):
    """(answer, number of ids up to the end of its line, number of ids up to the end of '####')
    of generated ids: the answer is the rest of the line after '####' (vocab.parse_answer); it
    is None and the last number 0 when no '####' was written."""
    text, marked = '', 0
    for n, i in enumerate(ids, 1):
        text += vocab.render([i], tok, mode='plain')
        marked = marked or (n if text.endswith('####') else 0)
        if '####' in text and text.endswith('\n'):
            return vocab.parse_answer(text[text.index('####'):], '####'), n, marked
    return (vocab.parse_answer(text[text.index('####'):], '####') if '####' in text else None), len(ids), marked


def forced_choice(model, tok, prompt, generated, marked, options):
    """Which of the two options the model ranks higher where the answer goes: after its own
    output up to '####' (or all of it and '####', if it wrote none), then ' '. An option's score
    is the log-probability of all of it and its line end, so options that share a first token
    (or one that is a prefix of the other) are still told apart. Chance is 1/2, while the greedy
    answer may be neither option."""
    tail = tok.encode(' ' if marked else '\n#### ')
    prefix = prompt + (generated[:marked] if marked else generated) + tail

    def logprob(option):
        ids = tok.encode(option + '\n')
        seq = (prefix + ids)[-model.config.block_size:]
        logits = model(torch.tensor([seq]))[0][0, -len(ids) - 1:-1]
        return torch.log_softmax(logits.float(), -1).gather(1, torch.tensor(ids)[:, None]).sum().item()
    return max(options, key=logprob)


def load_run(run_dir, tool):
    """(checkpoint, model in eval mode, tokenizer) of a Coconut run's ckpt.pt."""
    ckpt = load_checkpoint(os.path.join(run_dir, 'ckpt.pt'))
    if ckpt['idea'] != 'coconut':
        raise UserError(f"{run_dir} holds a {ckpt['idea']!r} model; {tool} needs model='coconut'")
    return ckpt, model_from_checkpoint(ckpt).eval(), Tokenizer(ckpt['meta'])


@torch.no_grad()
def evaluate(run_dir, split_path, limit=0, batch_size=64):
    """Greedy answers of run_dir/ckpt.pt on a jsonl split (prompt, completion, answer):
    accuracy, thought tokens per prompt (latents or pauses) and tokens decoded per answer;
    with records that name their options (ProsQA), the forced-choice accuracy too."""
    if limit < 0 or batch_size <= 0:
        raise UserError(f"need --limit >= 0 and batch_size > 0, got {limit}, {batch_size}")
    ckpt, model, tok = load_run(run_dir, 'coconut.py eval')
    if not os.path.exists(split_path):
        raise UserError(f"no split at {split_path}")
    records = read_jsonl(split_path)[:limit or None]
    if not records:
        raise UserError(f"{split_path} holds no records")
    for n, r in enumerate(records, 1):
        if not (isinstance(r, dict) and isinstance(r.get('prompt'), str) and isinstance(r.get('completion'), str)
                and 'answer' in r):
            raise UserError(f"{split_path} record {n} needs string fields prompt and completion, and an answer")
    thought_ids = {vocab.special_id(ckpt['meta'], vocab.LATENT), vocab.special_id(ckpt['meta'], vocab.PAUSE)}
    prompts = [tok.encode(r['prompt']) for r in records]
    if max(map(len, prompts)) >= model.config.block_size:
        raise UserError(f"a prompt of {split_path} has {max(map(len, prompts))} tokens: it and its answer do not fit "
                        f"block_size {model.config.block_size}")
    max_new = min(max(len(tok.encode(r['completion'])) for r in records) + 2,
                  model.config.block_size + 1 - max(map(len, prompts)))
    right = decoded = chosen = 0
    by_depth = {}  # depth: [right, records]
    for s in range(0, len(records), batch_size):
        new = model.complete(prompts[s:s + batch_size], max_new, temperature=0).tolist()
        for r, prompt, ids in zip(records[s:s + batch_size], prompts[s:s + batch_size], new):
            answer, n, marked = read_answer(ids, tok)
            right += answer == str(r['answer'])
            decoded += n
            if 'depth' in r:
                counts = by_depth.setdefault(r['depth'], [0, 0])
                counts[0] += answer == str(r['answer'])
                counts[1] += 1
            if 'options' in r:
                chosen += forced_choice(model, tok, prompt, ids, marked, r['options']) == r['answer']
    result = {'accuracy': right / len(records), 'correct': right, 'n': len(records),
              'thought_tokens': sum(i in thought_ids for p in prompts for i in p) / len(records),
              'decoded_tokens': decoded / len(records)}
    if 'options' in records[0]:
        result['choice_accuracy'] = chosen / len(records)
    if by_depth:
        result['accuracy_by_depth'] = {str(d): round(a / n, 4) for d, (a, n) in sorted(by_depth.items())}
    return result


# -----------------------------------------------------------------------------
# what a latent holds (the paper's probe): a breadth-first frontier?

def frontier_scores(values, dist, k):
    """values: the head's log-probability of each node of one graph at latent k; dist: hops
    from the root (None: unreachable). Returns (auc, frontier): how often a node within k hops
    outranks one that is not (ties count half), and the probability mass (renormalised over
    the graph's nodes) on the nodes exactly k hops away."""
    near = [v for v, d in zip(values, dist) if d is not None and 0 < d <= k]
    far = [v for v, d in zip(values, dist) if d is None or d > k]
    pairs = [(a > b) + 0.5 * (a == b) for a in near for b in far]
    auc = sum(pairs) / len(pairs) if pairs else None
    p = torch.tensor(values).softmax(0)
    frontier = sum(p[i].item() for i, d in enumerate(dist) if d == k)
    return auc, frontier


@torch.no_grad()
def latent_probe(run_dir, records_path, n_latents, limit=500):
    """For ProsQA records (data/prosqa: edges, root, names): each record's question, <bot>,
    n_latents <latent>, <eot> through run_dir's model; at latent k the output head is read on
    the state that is the latent's input, over the graph's own concepts. Per k: the mean AUC
    of nodes within k hops of the root against the rest, and the mass on the k-hop frontier."""
    _, model, tok = load_run(run_dir, 'the probe')
    records = [r for r in read_jsonl(records_path) if {'edges', 'root', 'names'} <= set(r)][:limit]
    if not records or n_latents < 1:
        raise UserError(f"the probe needs ProsQA records with edges, root and names in {records_path} "
                        f"(data/prosqa/prepare.py writes them) and --latents >= 1")
    sums = {k: [0.0, 0, 0.0] for k in range(1, n_latents + 1)}  # auc sum, graphs with an auc, frontier mass
    for r in records:
        ids = tok.encode(r['prompt'] + vocab.BOT + vocab.LATENT * n_latents + vocab.EOT)[-model.config.block_size:]
        logp = torch.log_softmax(model(torch.tensor([ids]))[0][0].float(), -1)
        first = len(ids) - n_latents - 1  # the first latent; the state before it is <bot>'s
        node_ids = [tok.encode(name) for name in r['names']]
        if any(len(i) != 1 for i in node_ids):
            raise UserError(f"the probe reads one token per concept: use the symbolic rendering of {records_path}")
        reach = distances_from(r['edges'], r['root'])
        dist = [reach.get(v) for v in range(len(r['names']))]
        for k in range(1, n_latents + 1):
            auc, frontier = frontier_scores(logp[first + k - 2, [i[0] for i in node_ids]].tolist(), dist, k)
            if auc is not None:
                sums[k][0] += auc
                sums[k][1] += 1
            sums[k][2] += frontier
    return {'run': run_dir, 'records': len(records),
            'latents': [{'k': k, 'auc_within_k': round(a / n, 4) if n else None, 'frontier_mass': round(f / len(records), 4)}
                        for k, (a, n, f) in sums.items()]}


@torch.no_grad()
def step_probe(run_dir, records_path, limit=500):
    """Has a chain-of-thought model learned to read the facts? For ProsQA records (symbolic,
    steps 'XY'), with the true chain teacher-forced: at each step's first node X, the mass
    the model puts on the next node among X's children, on the path's child, and on the two
    options; and how often its likeliest next node is a child of X, or the path's."""
    _, model, tok = load_run(run_dir, 'the step probe')
    records = [r for r in read_jsonl(records_path) if {'edges', 'names', 'steps', 'options'} <= set(r)][:limit]
    if not records or any(len(tok.encode(name)) != 1 for name in records[0]['names']):
        raise UserError(f"the step probe needs symbolic ProsQA records in {records_path} (data/prosqa/prepare.py)")
    sums, n = dict.fromkeys(('children', 'path_child', 'options', 'argmax_child', 'argmax_path'), 0.0), 0
    for r in records:
        prompt, names = tok.encode(r['prompt']), r['names']
        ids = (prompt + tok.encode(r['completion']))[:model.config.block_size]
        probs = model(torch.tensor([ids]))[0][0].float().softmax(-1)
        for k, step in enumerate(r['steps']):
            at = len(prompt) + 3 * k  # X of step k ('XY' and a newline per step) predicts Y
            if at >= len(ids):
                break
            kids = [tok.encode(names[v])[0] for u, v in r['edges'] if names[u] == step[0]]
            nxt, top = tok.encode(step[1])[0], probs[at].argmax().item()
            sums['children'] += probs[at, kids].sum().item()
            sums['path_child'] += probs[at, nxt].item()
            sums['options'] += sum(probs[at, tok.encode(o)[0]].item() for o in r['options'])
            sums['argmax_child'] += top in kids
            sums['argmax_path'] += top == nxt
            n += 1
    return {'run': run_dir, 'records': len(records), 'steps': n, **{k: round(v / n, 4) for k, v in sums.items()}}


def distances_from(edges, root):
    """Hops from root to every node it reaches."""
    children = {}
    for u, v in edges:
        children.setdefault(u, []).append(v)
    dist, todo = {root: 0}, [root]
    for u in todo:
        for v in children.get(u, []):
            if v not in dist:
                dist[v] = dist[u] + 1
                todo.append(v)
    return dist


# -----------------------------------------------------------------------------
# the schedule: one train.py run per stage

CURRICULUM = dict(
    arm='coconut',  # 'coconut', 'pause' (<pause> tokens in place of the latents), 'nothought' (steps dropped, no thoughts), 'cot', 'nocot'
    c=1,  # thoughts per reasoning step
    max_stage=3,  # the last stage: every step replaced, by c*max_stage thoughts
    first_stage=0,  # =max_stage: Coconut (or pause) without the curriculum
    stage_iters=200,  # iterations of every stage but the last
    stage_epochs=0.0,  # > 0: stages by epochs of the training records instead (sets stage_iters)
    last_iters=400,  # iterations of the last stage (the only one for 'cot' and 'nocot')
    reset_optimizer=True,  # a fresh AdamW at every stage (the paper); False: one run, resumed
    mix_prob=0.0,  # a training record takes a random stage 0..max_stage with this probability
    steps_key='steps',  # the records' field holding the reasoning steps (GSM8K: 'equations')
    eval_split='test',  # scored after every stage
    eval_limit=0,  # score only the first N records (0: all)
    deeper_split='test_deeper',  # scored after every stage too, where the data has it (ProsQA: one step deeper)
)


OFFICIAL_NAMES = {'train': 'train', 'val': 'valid', 'test': 'test'}  # our split -> the official file's suffix


def official_files(src):
    """{split: path} of the official repository's data files in src (prosqa_train.json,
    gsm_valid.json, ...: a JSON list of {question, answer, steps}), or {} if it has none."""
    names = os.listdir(src) if os.path.isdir(src) else []
    found = {split: os.path.join(src, name) for split, suffix in OFFICIAL_NAMES.items() for name in sorted(names)
             if name.endswith(f'_{suffix}.json') or name == f'{suffix}.json'}
    return found if 'train' in found else {}


def read_official(src, wanted):
    """The splits of official data files as records (the question and a newline as the prompt,
    the steps, the answer) and a character vocabulary of all their text."""
    files, splits = official_files(src), {}
    for split in wanted:
        if split not in files:
            raise UserError(f"{src} has no *_{OFFICIAL_NAMES[split]}.json for the {split} split")
        try:
            items = json.load(open(files[split]))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise UserError(f"{files[split]} is not JSON ({e})")
        def ok(r):
            return isinstance(r, dict) and isinstance(r.get('question'), str) and isinstance(r.get('steps'), list)
        bad = next((n for n, r in enumerate(items if isinstance(items, list) else [None], 1) if not ok(r)), None)
        if bad is not None or not items:
            raise UserError(f"{files[split]} must be a JSON list of {{question, answer, steps}}: item {bad or 1} is not")
        splits[split] = [{'prompt': r['question'].strip() + '\n', 'steps': [str(x) for x in r['steps']],
                          'answer': str(r['answer']).strip()} for r in items]
    text = ''.join(r['prompt'] + ''.join(r['steps']) + r['answer'] for rows in splits.values() for r in rows)
    chars = sorted(set(text) | set('#\n '))  # and what the stage records add: '#### ', newlines
    return splits, {'vocab_size': len(chars), 'tokenizer': 'char', 'stoi': {c: i for i, c in enumerate(chars)},
                    'itos': dict(enumerate(chars))}


def read_curriculum(argv):
    """train.py's config with the curriculum keys too (files and overrides alike):
    (curriculum keys, the rest)."""
    config = load_config(argv, extra=CURRICULUM)
    cur = {key: config.pop(key) for key in CURRICULUM}
    check_ranges(cur, nonnegative=('max_stage', 'stage_iters', 'stage_epochs', 'last_iters', 'eval_limit'),
                 positive=('c',), choices={'arm': ARMS})
    if not 0 <= cur['first_stage'] <= cur['max_stage']:
        raise UserError(f"config keys need 0 <= first_stage <= max_stage, got {cur['first_stage']}, {cur['max_stage']}")
    if not 0.0 <= cur['mix_prob'] <= 1.0:
        raise UserError(f"config key mix_prob must be in [0, 1], got {cur['mix_prob']}")
    return cur, config


def curriculum(argv):
    """Train the stages of one arm; out_dir/stages.jsonl gets a row per stage."""
    cur, config = read_curriculum(argv)
    if config['model'] != 'coconut':
        raise UserError(f"the curriculum trains model='coconut', the config has {config['model']!r}")
    pick_device(config['device'])  # a device this machine lacks is said before any stage is written
    src = config['data_dir'] or default_data_dir(config['dataset'])
    wanted = list(dict.fromkeys(('train', 'val', cur['eval_split'])))
    if official_files(src):
        splits, meta = read_official(src, wanted)
    else:
        meta, splits = load_meta(src, config['dataset']), {}
        if cur['deeper_split'] and os.path.exists(os.path.join(src, f"{cur['deeper_split']}.jsonl")):
            wanted.append(cur['deeper_split'])
        for split in wanted:
            path = os.path.join(src, f'{split}.jsonl')
            if not os.path.exists(path):
                raise UserError(f"no {path}: run python data/{config['dataset']}/prepare.py")
            splits[split] = read_jsonl(path)
    meta = coconut_meta(meta)
    def ok(r):
        return isinstance(r, dict) and isinstance(r.get('prompt'), str) and 'answer' in r and \
            isinstance(r.get(cur['steps_key']), list)
    for split, records in splits.items():
        bad = next((n for n, r in enumerate(records, 1) if not ok(r)), None)
        if bad is not None:
            raise UserError(f"{src}/{split}.jsonl record {bad} needs a string prompt, an answer and a list of steps "
                            f"in field {cur['steps_key']!r}")
    if cur['stage_epochs']:
        per_iter = config['batch_size'] * config['gradient_accumulation_steps']
        cur['stage_iters'] = max(1, round(cur['stage_epochs'] * len(splits['train']) / per_iter))
    stages = [0] if cur['arm'] in ('cot', 'nocot') else list(range(cur['first_stage'], cur['max_stage'] + 1))
    root = config['out_dir']
    check_writable(root)
    log_path = os.path.join(root, 'stages.jsonl')
    open(log_path, 'w').close()
    prev, run_iters, total_iters, total_time, total_flops = None, 0, 0, 0.0, 0.0
    for k in stages:
        data_dir = os.path.join(root, 'data', f'stage{k}')
        write_stage_data(data_dir, splits, meta, k, cur, config['seed'])
        iters = cur['last_iters'] if k == stages[-1] else cur['stage_iters']
        run_dir = os.path.join(root, f'stage{k}' if cur['reset_optimizer'] else 'run')
        run_iters = iters if cur['reset_optimizer'] else run_iters + iters
        init = config['init_from'] if prev is None else (prev if cur['reset_optimizer'] else 'resume')
        print(f"stage {k}: {iters} iterations in {run_dir} (init_from={init})")
        t0 = time.time()
        train({**config, 'data_dir': data_dir, 'out_dir': run_dir, 'init_from': init, 'max_iters': run_iters})
        total_time += time.time() - t0
        total_iters += iters
        total_flops += stage_flops(run_dir, iters)
        result = evaluate(run_dir, os.path.join(data_dir, f"{cur['eval_split']}.jsonl"), cur['eval_limit'])
        row = {'arm': cur['arm'], 'stage': k, 'max_stage': cur['max_stage'], 'c': cur['c'], 'iters': total_iters,
               'train_time': round(total_time, 1), 'train_flops': total_flops, 'split': cur['eval_split'], **result}
        if cur['deeper_split'] in splits:
            row['deeper'] = evaluate(run_dir, os.path.join(data_dir, f"{cur['deeper_split']}.jsonl"), cur['eval_limit'])
        with open(log_path, 'a') as f:
            f.write(json.dumps(row) + '\n')
        print(f"stage {k}: {cur['eval_split']} accuracy {result['accuracy']:.3f} ({result['correct']}/{result['n']}), "
              f"{result['thought_tokens']:.1f} thought + {result['decoded_tokens']:.1f} decoded tokens"
              + (f"; {cur['deeper_split']} {row['deeper']['accuracy']:.3f}" if 'deeper' in row else ''))
        prev = run_dir
    return log_path


def stage_flops(run_dir, iters):
    """Training FLOPs of a stage's last `iters` iterations, from its log (train.py counts every
    position of the block, padding included, so arms with one block_size compare at equal cost
    per iteration)."""
    rows = [r for r in read_jsonl(os.path.join(run_dir, 'log.jsonl')) if 'flops' in r]
    return rows[-1]['flops'] / rows[-1]['iter'] * iters if rows and rows[-1]['iter'] else 0.0


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='command', required=True)
    sub.add_parser('curriculum', help='CONFIG [--key=value ...]: train the stages of one arm')
    a = sub.add_parser('eval', help="greedy answers of RUN_DIR's checkpoint on a stage's jsonl split")
    a.add_argument('run_dir')
    a.add_argument('split')
    a.add_argument('--limit', type=int, default=0)
    b = sub.add_parser('probe', help="what RUN_DIR's latents hold on ProsQA RECORDS: the frontier of a search?")
    b.add_argument('run_dir')
    b.add_argument('records')
    b.add_argument('--latents', type=int, default=6)
    b.add_argument('--limit', type=int, default=500)
    s = sub.add_parser('steps', help="has RUN_DIR's chain-of-thought model learned to read the facts of ProsQA RECORDS?")
    s.add_argument('run_dir')
    s.add_argument('records')
    s.add_argument('--limit', type=int, default=500)
    args, rest = p.parse_known_args(argv)
    if rest and args.command != 'curriculum':
        p.error(f"unrecognized arguments: {' '.join(rest)}")
    with cli_errors():
        if args.command == 'curriculum':
            stages = curriculum(rest)
            print(f"every stage's score: {stages}; its table and figure: python plot.py {stages} --figure=coconut")
        elif args.command == 'probe':
            print(json.dumps(latent_probe(args.run_dir, args.records, args.latents, args.limit)))
        elif args.command == 'steps':
            print(json.dumps(step_probe(args.run_dir, args.records, args.limit)))
        else:
            print(json.dumps(evaluate(args.run_dir, args.split, args.limit)))


if __name__ == '__main__':
    main(sys.argv[1:])
