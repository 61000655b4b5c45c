"""
Thought Preference Optimization, TPO (Wu et al. 2024, "Thinking LLMs: General Instruction
Following with Thought Generation", arXiv 2410.10630): a model learns to think from judgments
of its answers alone. It writes a thought, then a response; a judge scores the response and
never sees the thought; the best and the worst of a prompt's samples, thought and response
together, become a preference pair for DPO. The thoughts improve only through what they do to
the answers. Each iteration starts from the last one's model, which is also its reference.

    python tpo.py config/tpo_arith.py                     # a config file, then --key=value overrides
    python plot.py results/tpo/tpo_exact_s133?.jsonl --figure=tpo --labels=TPO,TPO,TPO

One iteration:
  1. prompts_per_iteration prompts from the dataset's train.jsonl, `samples` completions of
     each in one batch through the KV cache (model.sample_batch). A completion that opens
     <think> is a thought up to </think>, then the response; one that does not (a direct
     model, the paper's baseline) is all response.
  2. the judge scores each response given the prompt (judge(prompts, responses) -> scores):
     'exact', the verifier (1 when the final answer is the record's), or 'likelihood', a
     model that can be wrong (judge_from: the mean log-prob of the response under another
     run, e.g. an answers-only one).
  3. per prompt the best- and the worst-scored completions (the first of each on ties) form a
     pair; a prompt whose samples all score the same gives none, and is counted.
  4. epochs passes of DPO over the pairs against the frozen reference (dpo_loss); a fresh
     AdamW each iteration.
Before the first iteration and after each: greedy answers on held-out prompts (val.jsonl),
the thoughts' length, and how often a right answer's thought has every step right (records
with 'steps'); out_dir/ckpt.pt in train.py's format and a row in out_dir/log.jsonl.

The paper (Llama-3-8B-Instruct, AlpacaEval and Arena-Hard, an 8B judge; theirs): the thinking
model started below the direct one and passed it after several iterations, with gains outside
math, and a drop on GSM8K. docs/tpo.md: what we measured on the arithmetic task.
"""

import copy
import os
import sys
import time

import torch
from torch.nn import functional as F

import vocab
from configurator import check_ranges, pick_device, read_config
from model import completion_logprobs, left_pad, sample_batch, sample_texts
from train import RunLog, checkpoint, load_checkpoint, model_from_checkpoint, save_checkpoint
from vocab import (Tokenizer, UserError, check_writable, cli_errors, default_data_dir, final_answer, normalize_number,
                   prompt_splits)

DEFAULTS = dict(
    # I/O
    out_dir='out-tpo',
    init_from='',  # the run to start from: its out_dir or its ckpt.pt (required)
    dataset='arith',  # prompts and answers: data/<dataset>/{train,val}.jsonl
    data_dir='',  # default: data/<dataset>
    eval_prompts=500,  # held-out prompts per evaluation (the first ones of val.jsonl)
    # sampling
    iterations=4,
    prompts_per_iteration=256,
    samples=8,  # completions per prompt, K in the paper
    max_new_tokens=48,
    temperature=1.0,
    top_k=0,  # 0: all tokens
    # the judge: 'exact' or 'likelihood' (judge_from: the run that scores)
    judge='exact',
    judge_from='',
    # DPO
    beta=0.1,
    epochs=1,  # passes over an iteration's pairs
    batch_size=32,  # pairs per update
    learning_rate=1e-5,
    weight_decay=0.0,
    beta1=0.9,
    beta2=0.99,
    grad_clip=1.0,  # 0 disables
    # system
    device='cpu',
    seed=1337,
    progress='tqdm',  # 'tqdm' bar or 'lines'
)
JUDGES = ('exact', 'likelihood')


def load_config(args):
    c = read_config(args, DEFAULTS)
    check_ranges(c, positive=('eval_prompts', 'prompts_per_iteration', 'max_new_tokens', 'batch_size', 'epochs',
                              'temperature', 'beta'),
                 nonnegative=('iterations', 'top_k', 'learning_rate', 'weight_decay', 'grad_clip'),
                 unit=('beta1', 'beta2'), choices={'judge': JUDGES, 'progress': ('tqdm', 'lines')})
    if c['samples'] < 2:
        raise UserError(f"config key samples must be >= 2 (a pair needs two completions), got {c['samples']}")
    if not c['init_from']:
        raise UserError("config key init_from is required: the out_dir (or ckpt.pt) of the run to start from")
    if (c['judge'] == 'likelihood') != bool(c['judge_from']):
        raise UserError("judge='likelihood' needs judge_from (the run whose model scores responses), and only it")
    return c


# -----------------------------------------------------------------------------
# thought and response; the judges see the response alone

def split_thought(completion):
    """(thought, response): a completion that writes </think> thinks up to the first one (tags
    included; its <think> may be the prompt's), and answers after it; one that opens <think> and
    never closes it is all thought; without the tags it is all response."""
    if vocab.THINK_CLOSE in completion:
        cut = completion.index(vocab.THINK_CLOSE) + len(vocab.THINK_CLOSE)
        return completion[:cut], completion[cut:]
    if completion.lstrip().startswith(vocab.THINK_OPEN):
        return completion, ''  # never stopped thinking: no response to judge
    return '', completion


def judge_completions(judge, prompts, completions):
    """The judge's scores of the completions: it is handed each response alone, never its thought."""
    return judge(prompts, [split_thought(t)[1] for t in completions])


def exact_judge(records):
    """The verifier: 1 when the response's final answer is the prompt's record's answer, read as
    grpo.py reads a completion's after its thought (after '####', else its first number)."""
    truth = {r['prompt']: normalize_number(str(r['answer'])) for r in records}

    def judge(prompts, responses):
        answers = [final_answer(vocab.THINK_CLOSE + resp) for resp in responses]
        return [float(a is not None and a == truth[p]) for a, p in zip(answers, prompts)]
    return judge


def likelihood_judge(model, tok, end_id, chunk=256):
    """A judge that can be wrong: the mean log-prob per token of the response (stripped, then
    <|endoftext|>, cut to the model's block) under another model given the prompt; an empty
    response scores -inf."""
    @torch.no_grad()
    def judge(prompts, responses):
        scores = []
        for s in range(0, len(prompts), chunk):
            ids = [tok.encode(p) for p in prompts[s:s + chunk]]
            rows = [(tok.encode(r.strip() + '\n') + [end_id])[:model.config.block_size - len(p)]
                    for r, p in zip(responses[s:s + chunk], ids)]
            seq, valid, mask = pad_completions(model, ids, rows)
            logp = completion_logprobs(model, seq, valid, seq.size(1) - mask.size(1)) * mask
            scores += (logp.sum(1) / mask.sum(1)).tolist()
        return [sc if resp.strip() else float('-inf') for sc, resp in zip(scores, responses)]
    return judge


def pad_completions(model, prompts, completions):
    """Prompts left-padded, then completions right-padded: (seq, valid, mask) as
    model.sample_batch returns them (mask 1 on each completion's own tokens; the right padding
    is not valid either, so its positions stay inside the block)."""
    ids, valid = left_pad(prompts, model.lm_head.weight.device)
    M = max(map(len, completions))
    tail = torch.zeros(len(completions), M, dtype=torch.long, device=ids.device)
    mask = torch.zeros(len(completions), M, device=ids.device)
    for i, comp in enumerate(completions):
        tail[i, :len(comp)] = torch.tensor(comp, dtype=torch.long)
        mask[i, :len(comp)] = 1.0
    return torch.cat([ids, tail], 1), torch.cat([valid, mask.bool()], 1), mask


def preference_pairs(scores, samples):
    """Per prompt (samples consecutive scores): the indices (best, worst), the first of each
    on ties; prompts whose scores are all equal are skipped. Returns (pairs, ties)."""
    pairs, ties = [], 0
    for g in range(0, len(scores), samples):
        group = scores[g:g + samples]
        best = max(range(samples), key=lambda i: group[i])
        worst = min(range(samples), key=lambda i: group[i])
        if group[best] == group[worst]:
            ties += 1
        else:
            pairs.append((g + best, g + worst))
    return pairs, ties


# -----------------------------------------------------------------------------
# the objective

def dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta):
    """DPO (Rafailov et al. 2023): -log sigmoid(beta * ((log pi(y_w) - log ref(y_w)) -
    (log pi(y_l) - log ref(y_l)))), mean over pairs; each argument (P,) is a completion's
    log-prob summed over its tokens (thought and response). Returns (loss, the share of pairs
    whose implicit reward margin is > 0, the mean margin)."""
    margin = beta * ((policy_chosen - ref_chosen) - (policy_rejected - ref_rejected))
    return -F.logsigmoid(margin).mean(), (margin > 0).float().mean(), margin.mean()


def sequence_logprobs(model, seq, valid, mask):
    """Each completion's log-prob summed over its tokens (mask), one forward over the rows."""
    return (completion_logprobs(model, seq, valid, seq.size(1) - mask.size(1)) * mask).sum(1)


def dpo_epochs(policy, reference, optimizer, seq, valid, mask, pairs, c, generator):
    """c['epochs'] passes over the pairs (row indices into seq) in shuffled batches; returns the
    means over the updates of the loss, the reward accuracy, the margin, and the chosen and the
    rejected completions' log-prob change from the reference (summed over tokens)."""
    chosen = torch.tensor([w for w, _ in pairs])
    rejected = torch.tensor([l for _, l in pairs])
    with torch.no_grad():
        ref_w = sequence_logprobs(reference, seq[chosen], valid[chosen], mask[chosen])
        ref_l = sequence_logprobs(reference, seq[rejected], valid[rejected], mask[rejected])
    stats = []
    for _ in range(c['epochs']):
        order = torch.randperm(len(pairs), generator=generator)
        for s in range(0, len(pairs), c['batch_size']):
            b = order[s:s + c['batch_size']]
            w, l = chosen[b], rejected[b]
            policy_w = sequence_logprobs(policy, seq[w], valid[w], mask[w])
            policy_l = sequence_logprobs(policy, seq[l], valid[l], mask[l])
            loss, accuracy, margin = dpo_loss(policy_w, policy_l, ref_w[b], ref_l[b], c['beta'])
            loss.backward()
            if c['grad_clip'] > 0:
                torch.nn.utils.clip_grad_norm_(policy.parameters(), c['grad_clip'])
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            # how far each side moved from the reference (DPO can lower both: only their gap is trained)
            stats.append((loss.item(), accuracy.item(), margin.item(), (policy_w.detach() - ref_w[b]).mean().item(),
                          (policy_l.detach() - ref_l[b]).mean().item()))
    keys = ('loss', 'reward_accuracy', 'margin', 'chosen_shift', 'rejected_shift')
    return {key: sum(s[i] for s in stats) / len(stats) for i, key in enumerate(keys)}


# -----------------------------------------------------------------------------
# one iteration, and the held-out measures

def tpo_iteration(policy, optimizer, records, tok, judge, c, end_id, generator):
    """Sample, judge, pair, then DPO against a frozen copy of the policy as it was. Returns the
    log row's numbers."""
    reference = copy.deepcopy(policy).requires_grad_(False)
    K = c['samples']
    seq, valid, mask = sample_batch(policy, [r['ids'] for r in records for _ in range(K)], c['max_new_tokens'],
                                    c['temperature'], c['top_k'], end_id)
    texts = vocab.completion_texts(tok, seq[:, seq.size(1) - mask.size(1):].tolist(), mask.sum(1).tolist(), end_id)
    prompts = [r['prompt'] for r in records for _ in range(K)]
    pairs, ties = preference_pairs(judge_completions(judge, prompts, texts), K)
    right = judge_completions(exact_judge(records), prompts, texts)
    row = {'rollouts': len(texts), 'pairs': len(pairs), 'ties': ties, 'sample_accuracy': sum(right) / len(right),
           'thought_share': sum(bool(split_thought(t)[0]) for t in texts) / len(texts),
           # how often the judge's pair agrees with the verifier (chosen right, rejected wrong)
           'pairs_right_over_wrong': sum(right[w] > right[l] for w, l in pairs) / max(len(pairs), 1)}
    if not pairs:
        return {**row, 'loss': 0.0, 'reward_accuracy': 0.0, 'margin': 0.0, 'chosen_shift': 0.0, 'rejected_shift': 0.0}
    return {**row, **dpo_epochs(policy, reference, optimizer, seq, valid, mask, pairs, c, generator)}


def thought_steps(thought):
    """The lines between <think> and </think>."""
    inner = thought.replace(vocab.THINK_OPEN, '').replace(vocab.THINK_CLOSE, '')
    return [line.strip() for line in inner.strip().splitlines() if line.strip()]


@torch.no_grad()
def evaluate(model, tok, records, c, end_id):
    """Greedy answers on held-out records: accuracy, mean thought length in tokens, and of the
    right answers that think the share whose thought has exactly the record's steps (None when
    no right answer thinks: a direct model)."""
    texts, _ = sample_texts(model, tok, [r['ids'] for r in records], c['max_new_tokens'], 0.0, 0, end_id)
    split = [split_thought(t) for t in texts]
    right = exact_judge(records)([r['prompt'] for r in records], [resp for _, resp in split])
    with_steps = [(ok, thought, r) for ok, (thought, _), r in zip(right, split, records) if ok and thought and 'steps' in r]
    return {'eval_greedy': sum(right) / len(records),
            'eval_thought_tokens': sum(len(tok.encode(t)) for t, _ in split) / len(records),
            'eval_steps_right_when_right': (sum(thought_steps(t) == r['steps'] for _, t, r in with_steps) /
                                            len(with_steps)) if with_steps else None}


def load_run(path):
    ckpt = load_checkpoint(path)
    if ckpt['idea'] != 'gpt':
        raise UserError(f"tpo.py trains plain GPT checkpoints; {path} holds a {ckpt['idea']!r} model")
    return ckpt


def run(c):
    torch.manual_seed(c['seed'])
    device = pick_device(c['device'])
    ckpt = load_run(c['init_from'])
    policy = model_from_checkpoint(ckpt).to(device).eval()  # eval mode: no dropout in the log-probs
    meta, tok = ckpt['meta'], Tokenizer(ckpt['meta'])
    end_id = vocab.end_of_text_id(tok, required=True)
    train_records, val_records = prompt_splits(c['data_dir'] or default_data_dir(c['dataset']), c['dataset'], tok,
                                               c['eval_prompts'], c['max_new_tokens'], policy.config.block_size)
    if c['judge'] == 'likelihood':
        judged = load_run(c['judge_from'])
        if any(judged['meta'].get(key) != meta.get(key) for key in ('tokenizer', 'stoi', 'special_tokens')):
            raise UserError(f"the judge {c['judge_from']} reads another vocabulary than {c['init_from']}")
        judge = likelihood_judge(model_from_checkpoint(judged).to(device).eval(), tok, end_id)
    else:
        judge = exact_judge(train_records)
    check_writable(c['out_dir'])
    log = RunLog(os.path.join(c['out_dir'], 'log.jsonl'))
    print(f"tpo on {c['init_from']}: {policy.get_num_params() / 1e6:.2f}M parameters, judge {c['judge']}, "
          f"{c['iterations']} iterations of {c['prompts_per_iteration']} prompts x {c['samples']} samples")
    progress = None
    if c['progress'] == 'tqdm':
        from tqdm import tqdm
        progress = tqdm(total=c['iterations'], dynamic_ncols=True, desc='tpo')
    say = progress.write if progress else print
    t_start, rollouts = time.time(), 0
    for it in range(c['iterations'] + 1):
        row = {'iter': it}
        if it > 0:
            g = torch.Generator().manual_seed(c['seed'] * 1_000_003 + it)
            picks = torch.randint(len(train_records), (c['prompts_per_iteration'],), generator=g).tolist()
            # a fresh AdamW each iteration: the paper's iterations each train anew from the last model
            optimizer = policy.configure_optimizers(c['weight_decay'], c['learning_rate'], (c['beta1'], c['beta2']),
                                                    'cuda' if device.startswith('cuda') else 'cpu')
            row.update(tpo_iteration(policy, optimizer, [train_records[i] for i in picks], tok, judge, c, end_id, g))
            rollouts += row['rollouts']
        row.update(evaluate(policy, tok, val_records, c, end_id), total_rollouts=rollouts,
                   time=round(time.time() - t_start, 3))
        log.write(row)
        if it > 0:
            save_checkpoint(checkpoint(policy, optimizer, 'gpt', meta, c, it, elapsed=time.time() - t_start),
                            os.path.join(c['out_dir'], 'ckpt.pt'))
            if progress:
                progress.update(1)
        steps = row['eval_steps_right_when_right']
        say(f"iteration {it}: held-out greedy {row['eval_greedy']:.3f}, thought {row['eval_thought_tokens']:.1f} tokens, "
            f"steps right when right {'-' if steps is None else f'{steps:.3f}'}" +
            (f"; {row['pairs']} pairs, {row['ties']} ties, pairs right over wrong {row['pairs_right_over_wrong']:.2f}, "
             f"DPO loss {row['loss']:.4f}, log-prob shift chosen {row['chosen_shift']:+.3f} rejected "
             f"{row['rejected_shift']:+.3f}" if it > 0 else ''))
    if progress:
        progress.close()


def main(argv):
    with cli_errors():
        run(load_config(argv))


if __name__ == '__main__':
    main(sys.argv[1:])
