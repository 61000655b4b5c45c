"""
GRPO, group relative policy optimization (Shao et al. 2024, "DeepSeekMath"; the RL of
DeepSeek-R1, 2025), with the token averaging of DAPO (Yu et al. 2025) and Dr. GRPO (Liu et
al. 2025) as options.

    python grpo.py config/grpo_arith.py                 # a config file, then --key=value overrides
    python plot.py results/grpo/*.jsonl --labels=a,b --out=assets/grpo.png --figure=grpo

It starts from a checkpoint (init_from: a run's out_dir or ckpt.pt, e.g. a model fine-tuned
by train.py on task records) and keeps a frozen copy of it as the reference. Each step:
  1. batch_size prompts from the dataset's train.jsonl, group_size completions of each, all
     sampled in one batch with the KV cache (prompts left-padded; a mask hides the padding
     and positions start at each row's first token, so a row gets what it would alone). A
     completion ends at <|endoftext|> (vocab.END_OF_TEXT) or after max_new_tokens; the
     tokens after its end are masked out.
  2. rewards: a weighted sum of plain functions (prompt, completion, record) -> float, in
     REWARDS: accuracy (the final answer equals the record's answer) and format (one
     <think>...</think>, then the answer). Weights are the config's <name>_weight.
  3. advantages: each reward minus its group's mean, divided by the group's std
     (advantage_scale='group'), the batch's ('batch') or nothing ('none', as Dr. GRPO).
     Rows whose advantage is 0 (a group with equal rewards) are dropped and counted.
  4. mu AdamW updates of the clipped-ratio objective with a k3 KL penalty to the reference,
     the rollout's log-probabilities held fixed as the old policy (grpo_loss).
Every eval_interval steps: greedy answers (pass@1) and eval_samples samples (sampled
accuracy, pass@k, majority vote) on held-out prompts (val.jsonl), then out_dir/ckpt.pt in
train.py's format, so sample.py and train.py's init_from read it. Every step writes a row to out_dir/log.jsonl.
"""

import math
import os
import sys
import time
from collections import Counter

import torch
from torch.nn import functional as F

import vocab
from model import completion_logprobs, group_advantages, sample_batch, sample_texts
from configurator import check_ranges, pick_device, read_config
from train import RunLog, checkpoint, load_checkpoint, model_from_checkpoint, save_checkpoint, set_lr
from vocab import (Tokenizer, UserError, check_writable, cli_errors, default_data_dir, final_answer, normalize_number,
                   prompt_splits)


DEFAULTS = dict(
    # I/O
    out_dir='out-grpo',
    init_from='',  # the run to start from: its out_dir or its ckpt.pt (required)
    dataset='arith',  # prompts and answers: data/<dataset>/{train,val}.jsonl
    data_dir='',  # default: data/<dataset>
    eval_interval=25,
    eval_prompts=200,  # held-out prompts per evaluation (the first ones of val.jsonl)
    eval_samples=8,  # samples per held-out prompt for the majority vote
    # rollouts
    batch_size=8,  # prompts per step
    group_size=8,  # completions per prompt
    max_new_tokens=48,
    temperature=1.0,
    top_k=0,  # 0: all tokens
    # rewards: the weight of each function in REWARDS
    accuracy_weight=1.0,
    format_weight=1.0,
    # the objective
    advantage_scale='group',  # 'group' (GRPO), 'batch' or 'none' (Dr. GRPO)
    loss_type='grpo',  # 'grpo', 'dapo' or 'dr_grpo': how token losses are averaged
    mu=2,  # updates per batch of rollouts
    epsilon_low=0.2,  # ratio clipped to [1 - epsilon_low, 1 + epsilon_high]
    epsilon_high=0.2,  # DAPO's clip-higher: larger than epsilon_low
    beta=0.04,  # weight of the KL penalty to the reference (0: no reference pass)
    # AdamW, learning rate as train.py (decay_lr=False: constant after warmup)
    learning_rate=1e-4,
    max_iters=100,
    weight_decay=0.0,
    beta1=0.9,
    beta2=0.99,
    grad_clip=1.0,  # 0 disables
    decay_lr=False,
    warmup_iters=0,
    lr_decay_iters=0,
    min_lr=0.0,
    # system
    device='cpu',
    seed=1337,
    progress='tqdm',  # 'tqdm' bar or 'lines'
)
LOSS_TYPES = ('grpo', 'dapo', 'dr_grpo')
SCALES = ('group', 'batch', 'none')


def load_config(args):
    c = read_config(args, DEFAULTS)
    check_ranges(c, positive=('eval_interval', 'eval_prompts', 'eval_samples', 'batch_size', 'max_new_tokens', 'mu'),
                 nonnegative=('max_iters', 'top_k', 'temperature', 'beta', 'learning_rate', 'weight_decay', 'grad_clip',
                              'warmup_iters', 'lr_decay_iters', 'min_lr', 'epsilon_high', *(f'{name}_weight' for name in REWARDS)),
                 unit=('beta1', 'beta2', 'epsilon_low'),
                 choices={'loss_type': LOSS_TYPES, 'advantage_scale': SCALES, 'progress': ('tqdm', 'lines')})
    if c['group_size'] < 2:
        raise UserError(f"config key group_size must be >= 2 (advantages compare completions of one prompt), "
                        f"got {c['group_size']}")
    if not c['init_from']:
        raise UserError("config key init_from is required: the out_dir (or ckpt.pt) of the run to start from")
    return c


# -----------------------------------------------------------------------------
# rewards: plain functions of (prompt, completion, record) -> float

def accuracy_reward(prompt, completion, record):
    """1 when the final answer equals the record's 'answer' as a number."""
    answer = final_answer(completion)
    return float(answer is not None and answer == normalize_number(str(record['answer'])))


def format_reward(prompt, completion, record):
    """1 when the completion is exactly one <think>...</think> block, first, then an answer."""
    text = completion.strip()
    one_block = text.count(vocab.THINK_OPEN) == 1 and text.count(vocab.THINK_CLOSE) == 1
    if not (one_block and text.startswith(vocab.THINK_OPEN)):
        return 0.0
    after = text[text.index(vocab.THINK_CLOSE):]  # the answer must come after the block
    return float(final_answer(after) is not None)


REWARDS = {'accuracy': accuracy_reward, 'format': format_reward}


def score(prompts, completions, records, weights):
    """(weighted total (N,), {name: (N,)}) over the rollouts."""
    parts = {name: torch.tensor([fn(p, c, r) for p, c, r in zip(prompts, completions, records)])
             for name, fn in REWARDS.items()}
    total = sum(weights[name] * parts[name] for name in REWARDS)
    return total, parts


# -----------------------------------------------------------------------------
# the objective

def grpo_loss(logp, old_logp, ref_logp, advantages, mask, epsilon_low=0.2, epsilon_high=0.2, beta=0.04,
              loss_type='grpo', n_rows=None, n_tokens=None):
    """The GRPO objective, to minimise. logp, old_logp, ref_logp, mask: (N, M) per completion
    token (ref_logp may be None when beta == 0); advantages (N,). Per token:
        -min(ratio * A, clip(ratio, 1 - epsilon_low, 1 + epsilon_high) * A) + beta * kl
    with ratio = pi / pi_old and kl the k3 estimate pi_ref/pi - log(pi_ref/pi) - 1 (>= 0).
    Averaged: 'grpo' over each sequence's tokens, then over sequences; 'dapo' over all tokens;
    'dr_grpo' summed and divided by N * M (M: the padded completion length, a constant when
    the rollouts pad to max_new_tokens). n_rows, n_tokens: the batch's rows and completion
    tokens before rows of zero advantage were dropped (default: these rows'), so that dropping
    them leaves the averages as they were. Returns (loss, stats)."""
    mask = mask.to(logp.dtype)
    ratio = torch.exp(logp - old_logp)
    A = advantages[:, None]
    per_token = -torch.min(ratio * A, ratio.clamp(1 - epsilon_low, 1 + epsilon_high) * A)
    kl = torch.zeros_like(logp)
    if ref_logp is not None:
        log_r = (ref_logp - logp).clamp(-20.0, 20.0)  # exp of a larger gap would overflow
        kl = torch.exp(log_r) - log_r - 1
    per_token = per_token + beta * kl
    n_rows = n_rows or mask.size(0)
    n_tokens = n_tokens or mask.sum().clamp(min=1)
    if loss_type == 'grpo':
        loss = ((per_token * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)).sum() / n_rows
    elif loss_type == 'dapo':
        loss = (per_token * mask).sum() / n_tokens
    elif loss_type == 'dr_grpo':
        loss = (per_token * mask).sum() / (n_rows * mask.size(1))
    else:
        raise ValueError(f"loss_type must be one of {LOSS_TYPES}, got {loss_type!r}")
    with torch.no_grad():
        n = mask.sum().clamp(min=1)
        # a token is clipped when the clipped term is the smaller one: it gives no gradient
        clipped = ((ratio < 1 - epsilon_low) & (A < 0)) | ((ratio > 1 + epsilon_high) & (A > 0))
        stats = {'kl': ((kl * mask).sum() / n).item(), 'clip_frac': ((clipped * mask).sum() / n).item(),
                 'ratio': ((ratio * mask).sum() / n).item()}
    return loss, stats


# -----------------------------------------------------------------------------
# evaluation: held-out prompts, greedy and majority vote

def held_out_scores(greedy, samples, records, k):
    """pass@1 of the greedy completions; over the k samples of each record (samples holds
    them record by record): their mean accuracy, the majority answer's (majority@k, a tie
    goes to the answer seen first) and the share of records with a right one (pass@k); the
    greedy completions' format rate."""
    majority, sampled, passed = 0, 0, 0
    for i, r in enumerate(records):
        answers = [final_answer(t) for t in samples[i * k:(i + 1) * k]]
        truth = normalize_number(str(r['answer']))
        votes = Counter(a for a in answers if a is not None)
        majority += bool(votes) and votes.most_common(1)[0][0] == truth
        sampled += answers.count(truth)
        passed += truth in answers
    n = len(records)
    return {'eval_greedy': sum(accuracy_reward(None, t, r) for t, r in zip(greedy, records)) / n,
            'eval_majority': majority / n, 'eval_sampled': sampled / (n * k), 'eval_pass': passed / n,
            'eval_format': sum(format_reward(None, t, r) for t, r in zip(greedy, records)) / n}


@torch.no_grad()
def evaluate(model, tok, records, c, end_id, chunk=256):
    """held_out_scores of greedy completions and eval_samples samples per record, and the
    greedy completions' mean length."""
    prompts = [r['ids'] for r in records]
    k = c['eval_samples']
    complete = lambda rows, t: sample_texts(model, tok, rows, c['max_new_tokens'], t, c['top_k'], end_id, chunk)
    greedy, lengths = complete(prompts, 0.0)
    samples, _ = complete([p for p in prompts for _ in range(k)], c['temperature'])
    return {**held_out_scores(greedy, samples, records, k), 'eval_length': sum(lengths) / len(records)}


# -----------------------------------------------------------------------------
# the loop

def forward_flops(model, n_tokens, context):
    """FLOPs of a forward pass over n_tokens at the given context: a third of model.flops_per_token."""
    return n_tokens * model.flops_per_token(context) / 3


def grpo_step(policy, reference, optimizer, records, tok, c, end_id, weights):
    """One batch of rollouts, then mu updates on the rows whose advantage is not zero (a group
    whose rewards are all equal teaches nothing: its rows are dropped before any forward pass
    with gradient, and counted). Returns the log row's numbers; kl, clip_frac and ratio are
    means over the mu updates."""
    G, temperature = c['group_size'], c['temperature']
    if not temperature > 0:
        raise UserError(f"GRPO samples its rollouts: temperature must be > 0, got {temperature} (0 is greedy, "
                        f"every completion of a group the same)")
    seq, valid, mask = sample_batch(policy, [r['ids'] for r in records for _ in range(G)], c['max_new_tokens'],
                                    temperature, c['top_k'], end_id)
    n_prompt = seq.size(1) - mask.size(1)
    texts = vocab.completion_texts(tok, seq[:, n_prompt:].tolist(), mask.sum(dim=1).tolist(), end_id)
    group_records = [r for r in records for _ in range(G)]
    rewards, parts = score([r['prompt'] for r in group_records], texts, group_records, weights)
    advantages = group_advantages(rewards.view(-1, G), scale=c['advantage_scale']).reshape(-1).to(seq.device)
    keep = advantages != 0  # all of a group's rows are 0 exactly when its rewards are equal
    row = {'reward': rewards.mean().item(), 'accuracy': parts['accuracy'].mean().item(),
           'format': parts['format'].mean().item(), 'length': mask.sum(dim=1).float().mean().item(),
           'equal_groups': (~keep.view(-1, G).any(dim=1)).float().mean().item()}
    row['dropped_rows'] = int((~keep).sum())
    # sampling: the prompts once, then one token per row and step (KV cache)
    flops = forward_flops(policy, seq.size(0) * seq.size(1), seq.size(1))
    if not keep.any():
        return {**row, 'loss': 0.0, 'kl': 0.0, 'clip_frac': 0.0, 'ratio': 1.0, 'flops': flops}
    n_rows, n_tokens = mask.size(0), mask.sum()
    seq, valid, mask, advantages = seq[keep], valid[keep], mask[keep], advantages[keep]
    # completions padded to max_new_tokens: dr_grpo divides by N * max_new_tokens, a constant
    pad = lambda t: F.pad(t, (0, c['max_new_tokens'] - t.size(1)))
    # every log-prob at the sampling temperature: the policy that wrote the rollouts
    with torch.no_grad():
        old_logp = pad(completion_logprobs(policy, seq, valid, n_prompt, temperature))
        ref_logp = pad(completion_logprobs(reference, seq, valid, n_prompt, temperature)) if c['beta'] > 0 else None
    tokens = seq.size(0) * seq.size(1)
    flops += forward_flops(policy, tokens, seq.size(1)) * ((c['beta'] > 0) + 1 + 3 * c['mu'])
    stats = []
    for _ in range(c['mu']):
        logp = pad(completion_logprobs(policy, seq, valid, n_prompt, temperature))
        loss, update = grpo_loss(logp, old_logp, ref_logp, advantages, pad(mask), c['epsilon_low'],
                                 c['epsilon_high'], c['beta'], c['loss_type'], n_rows, n_tokens)
        if not math.isfinite(loss.item()):
            raise UserError(f"loss is {loss.item()}: stopped (try a lower learning_rate or a larger beta)")
        loss.backward()
        if c['grad_clip'] > 0:
            torch.nn.utils.clip_grad_norm_(policy.parameters(), c['grad_clip'])
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        stats.append(update)
    means = {key: sum(u[key] for u in stats) / len(stats) for key in stats[0]}
    return {**row, 'loss': loss.item(), **means, 'flops': flops}


def run(c):
    torch.manual_seed(c['seed'])
    device = pick_device(c['device'])
    path = c['init_from']
    ckpt = load_checkpoint(path)
    if ckpt['idea'] != 'gpt':
        raise UserError(f"grpo.py trains plain GPT checkpoints; {path} holds a {ckpt['idea']!r} model")
    # eval mode throughout: no dropout, so the ratio to the old policy is exactly 1 at the first update
    policy = model_from_checkpoint(ckpt).to(device).eval()
    reference = model_from_checkpoint(ckpt).to(device).eval().requires_grad_(False)
    meta = ckpt['meta']
    tok = Tokenizer(meta)
    end_id = vocab.end_of_text_id(tok, required=True)
    train_records, val_records = prompt_splits(c['data_dir'] or default_data_dir(c['dataset']), c['dataset'], tok,
                                               c['eval_prompts'], c['max_new_tokens'], policy.config.block_size)
    weights = {name: c[f'{name}_weight'] for name in REWARDS}
    check_writable(c['out_dir'])
    device_type = 'cuda' if device.startswith('cuda') else device
    optimizer = policy.configure_optimizers(c['weight_decay'], c['learning_rate'], (c['beta1'], c['beta2']), device_type)
    log = RunLog(os.path.join(c['out_dir'], 'log.jsonl'))
    print(f"grpo on {path}: {policy.get_num_params() / 1e6:.2f}M parameters, {c['batch_size']} prompts x "
          f"{c['group_size']} completions per step, {len(train_records):,} train prompts, {len(val_records)} held out")

    progress = None
    if c['progress'] == 'tqdm':
        from tqdm import tqdm
        progress = tqdm(total=c['max_iters'], dynamic_ncols=True, desc='grpo')
    say = progress.write if progress else print
    t_start, total_flops = time.time(), 0.0
    for it in range(c['max_iters'] + 1):
        if it % c['eval_interval'] == 0 or it == c['max_iters']:
            row = {'iter': it, **evaluate(policy, tok, val_records, c, end_id)}
            row['time'] = round(time.time() - t_start, 3)
            log.write(row)
            say(f"iter {it}: held-out greedy {row['eval_greedy']:.3f}, sampled {row['eval_sampled']:.3f}, "
                f"pass@{c['eval_samples']} {row['eval_pass']:.3f}, majority@{c['eval_samples']} "
                f"{row['eval_majority']:.3f}, format {row['eval_format']:.3f}")
            if it > 0:
                save_checkpoint(checkpoint(policy, optimizer, 'gpt', meta, c, it, elapsed=time.time() - t_start),
                                os.path.join(c['out_dir'], 'ckpt.pt'))
        if it == c['max_iters']:
            break
        lr = set_lr(optimizer, it, c)
        g = torch.Generator().manual_seed(c['seed'] * 1_000_003 + it)
        batch = [train_records[i] for i in torch.randint(len(train_records), (c['batch_size'],), generator=g).tolist()]
        row = {'iter': it, 'lr': lr, **grpo_step(policy, reference, optimizer, batch, tok, c, end_id, weights)}
        total_flops += row['flops']
        row['flops'] = total_flops
        row['time'] = round(time.time() - t_start, 3)
        log.write(row)
        stats = (f"reward {row['reward']:.3f}, acc {row['accuracy']:.3f}, format {row['format']:.3f}, "
                 f"kl {row['kl']:.4f}, clip {row['clip_frac']:.3f}, equal groups {row['equal_groups']:.2f}")
        if progress:
            progress.update(1)
            progress.set_postfix_str(stats)
        else:
            print(f"iter {it}: {stats}")
    if progress:
        progress.close()


def main(argv):
    with cli_errors():
        run(load_config(argv))


if __name__ == '__main__':
    main(sys.argv[1:])
