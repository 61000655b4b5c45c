"""Coconut: the cached multi-pass forward against a naive one, causality, batched generation,
the curriculum's records and loss mask, the ProsQA-style generator, and a tiny curriculum run."""

import json

import pytest
import torch

import coconut
import configurator as C
import plot
import vocab
import train as T
from conftest import TINY, assert_greedy, load_script

V = 20
BOT, LATENT, EOT = 17, 18, 19


def tiny_model(seed=0):
    torch.manual_seed(seed)
    config = coconut.CoconutConfig(block_size=32, vocab_size=V, n_layer=2, n_head=2, n_embd=32, bias=False,
                                   bot_id=BOT, latent_id=LATENT, eot_id=EOT)
    return coconut.CoconutGPT(config)


def row(question, n_latent, answer):
    return question + [BOT] + [LATENT] * n_latent + [EOT] + answer


# rows with different question lengths and latent counts (one with none), right-padded
ROWS = [row([3, 5, 7], 3, [2, 4, 6]), row([1, 2, 3, 4, 5, 6], 1, [9, 8]), [4, 4, 6, 1, 2], row([8], 2, [1])]


def padded(rows):
    Tm = max(map(len, rows)) - 1
    x = torch.zeros(len(rows), Tm, dtype=torch.long)
    y = torch.full((len(rows), Tm), -1, dtype=torch.long)
    for b, r in enumerate(rows):
        x[b, :len(r) - 1] = torch.tensor(r[:-1])
        y[b, :len(r) - 1] = torch.tensor(r[1:])
    return x, y


def naive_logits(model, ids):
    """One row, no cache: for each latent in order, recompute the whole prefix from scratch and
    put the final hidden state before the latent in place of its embedding."""
    tr = model.transformer
    emb = tr.wte(torch.tensor(ids))
    pos = tr.wpe(torch.arange(len(ids)))
    for p in [i for i, t in enumerate(ids) if t == LATENT]:
        h = tr.ln_f(model.blocks((emb[:p] + pos[:p])[None]))[0]
        emb = torch.cat([emb[:p], h[-1:], emb[p + 1:]])
    return model.lm_head(tr.ln_f(model.blocks((emb + pos)[None])))[0]


def grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_cached_passes_equal_naive_recompute():
    model = tiny_model()
    x, y = padded(ROWS)
    logits, loss = model(x, y)
    loss.backward()
    cached = grads(model)
    model.zero_grad()
    naive = [naive_logits(model, r[:-1]) for r in ROWS]
    for b, r in enumerate(ROWS):
        assert torch.allclose(logits[b, :len(r) - 1], naive[b], atol=1e-5)
    targets = torch.cat([torch.tensor(r[1:]) for r in ROWS])
    # the same loss: lm_loss over the rows' own targets, no padding
    naive_loss = coconut.lm_loss(torch.cat(naive), targets.masked_fill(targets == LATENT, -1))
    assert torch.allclose(loss, naive_loss, atol=1e-6)
    naive_loss.backward()
    ref = grads(model)
    assert cached.keys() == ref.keys()
    for name in ref:
        assert torch.allclose(cached[name], ref[name], atol=1e-5), name
    # the chain carries gradient: the first layer's weights feel the answer through every latent
    assert ref['transformer.h.0.attn.c_attn.weight'].abs().sum() > 0


def test_latents_are_fed_back_not_embedded():
    """The latent's own embedding row never enters (only its tied output row changes)."""
    model = tiny_model()
    x, _ = padded(ROWS)
    before = model(x)[0]
    with torch.no_grad():
        model.transformer.wte.weight[LATENT] += 1.0
    after = model(x)[0]
    other = torch.arange(V) != LATENT
    assert torch.allclose(before[..., other], after[..., other], atol=1e-6)


def test_causal_and_rows_independent():
    model = tiny_model()
    x, _ = padded(ROWS)
    base = model(x)[0]
    t = 2  # a question token of row 0, before its latents
    x2 = x.clone()
    x2[0, t] = 11
    out = model(x2)[0]
    assert torch.allclose(out[0, :t], base[0, :t], atol=1e-6)
    assert not torch.allclose(out[0, t:], base[0, t:], atol=1e-4)  # it reaches later positions, latents included
    assert torch.allclose(out[1:], base[1:], atol=1e-6)  # other rows, with other alignments, unchanged
    x3 = x.clone()
    x3[1, -1] = 12  # a padded row's tail: row 1 is its own length, other rows do not see it
    assert torch.allclose(model(x3)[0][[0, 2, 3]], base[[0, 2, 3]], atol=1e-6)


def test_without_latents_it_is_the_gpt():
    model = tiny_model()
    x = torch.randint(0, 17, (2, 9))
    ref = super(coconut.CoconutGPT, model).forward(x)[0]
    assert torch.allclose(model(x)[0], ref)


def test_complete_equals_greedy_recompute():
    """Batched generation (different prompt lengths and latent counts, left padding, KV cache)
    gives the tokens that argmax over a full forward of each row alone gives."""
    model = tiny_model(1).eval()
    prompts = [[3, 5, 7, BOT, LATENT, LATENT, LATENT, EOT], [1, 2, 3, 4, 5, 6, BOT, LATENT, EOT], [4, 4]]
    new = model.complete(prompts, 6, temperature=0).tolist()
    for p, got in zip(prompts, new):
        assert_greedy(p + got, len(p), lambda prefix: model(prefix)[0][:, -1])
    out = model.generate(torch.tensor([prompts[0], prompts[0]]), 3, temperature=0)
    assert out.shape == (2, 11) and out[0].tolist() == prompts[0] + new[0][:3]


def test_complete_feeds_a_generated_latent_its_state(monkeypatch):
    model = tiny_model(2).eval()
    calls = []

    def latent_twice(logits, temperature, top_k):  # the model "chooses" two latents, then text
        calls.append(1)
        forced = torch.full((logits.size(0), 1), LATENT)
        return forced if len(calls) <= 2 else logits.argmax(-1, keepdim=True)
    monkeypatch.setattr(coconut, 'sample_token', latent_twice)
    prompt = [3, 5, BOT]
    got = model.complete([prompt], 5, temperature=0)[0].tolist()
    assert got[:2] == [LATENT, LATENT]
    ref = model(torch.tensor([prompt + got]))[0][0]  # forward treats the generated latents as latents
    assert [int(ref[len(prompt) - 1 + i].argmax()) for i in range(2, 5)] == got[2:]


RECORD = {'prompt': 'Q?\n', 'steps': ['s1', 's2', 's3'], 'answer': '7'}


@pytest.mark.parametrize('stage', [0, 1, 2, 3])
def test_curriculum_stage_records_and_loss_mask(stage):
    c, max_stage = 2, 3
    prompt, completion = coconut.stage_record(RECORD, stage, c, max_stage)
    assert prompt == 'Q?\n<bot>' + '<latent>' * (c * stage) + '<eot>'
    assert completion == ''.join(s + '\n' for s in RECORD['steps'][stage:]) + '#### 7\n'
    chars = sorted(set('Q?\ns1237# '))
    meta = coconut.coconut_meta({'vocab_size': len(chars), 'tokenizer': 'char',
                                 'stoi': {ch: i for i, ch in enumerate(chars)}, 'itos': dict(enumerate(chars))})
    tok = T.Tokenizer(meta)
    p, comp = tok.encode(prompt), tok.encode(completion)
    x, y = T.records_batch([(p + comp, len(p))], 64)
    # no loss on the question, <bot>, the latents, <eot>; loss on every completion token
    assert (y[0, :len(p) - 1] == -1).all()
    assert y[0, len(p) - 1:].tolist() == comp
    assert x[0, :len(p)].tolist().count(meta['special_tokens']['<latent>']) == c * stage


def test_last_stage_replaces_every_step_and_baselines():
    prompt, completion = coconut.stage_record(RECORD, 2, 1, 2)  # max_stage 2 < 3 steps: all replaced
    assert prompt == 'Q?\n<bot><latent><latent><eot>' and completion == '#### 7\n'
    assert coconut.stage_record(RECORD, 2, 1, 2, arm='pause') == ('Q?\n<bot><pause><pause><eot>', '#### 7\n')
    assert coconut.stage_record(RECORD, 1, 1, 2, arm='nothought') == ('Q?\n<bot><eot>', 's2\ns3\n#### 7\n')
    assert coconut.stage_record(RECORD, 2, 1, 2, arm='nothought') == ('Q?\n<bot><eot>', '#### 7\n')
    assert coconut.stage_record(RECORD, 0, 1, 2, arm='cot') == ('Q?\n', 's1\ns2\ns3\n#### 7\n')
    assert coconut.stage_record(RECORD, 0, 1, 2, arm='nocot') == ('Q?\n', '#### 7\n')
    eq = {**RECORD, 'equations': ['1+1=2']}
    assert coconut.stage_record(eq, 0, 1, 1, steps_key='equations')[1] == '1+1=2\n#### 7\n'


def test_stage_mixing(tmp_path):
    cur = {**coconut.CURRICULUM, 'max_stage': 3, 'mix_prob': 0.5}
    splits = {'train': [RECORD] * 200, 'val': [RECORD] * 10}
    coconut.write_stage_data(tmp_path, splits, {'vocab_size': 1}, 1, cur, seed=0)
    train = [json.loads(l) for l in open(tmp_path / 'train.jsonl')]
    val = [json.loads(l) for l in open(tmp_path / 'val.jsonl')]
    stages = [r['stage'] for r in train]
    assert 0.55 < stages.count(1) / len(stages) < 0.8 and set(stages) == {0, 1, 2, 3}  # 1/2 + 1/8 stay
    assert all(r['stage'] == 1 for r in val)


def test_read_answer():
    meta = {'vocab_size': 5, 'tokenizer': 'char', 'stoi': {c: i for i, c in enumerate('#ab \n')},
            'itos': dict(enumerate('#ab \n'))}
    tok = T.Tokenizer(meta)
    assert coconut.read_answer(tok.encode('ab\n#### b\naa'), tok) == ('b', 10, 7)
    assert coconut.read_answer(tok.encode('abab'), tok) == (None, 4, 0)



class BigramModel:
    """A stand-in model whose next-token logits depend only on the last token (a table)."""

    def __init__(self, table):
        self.table, self.config = table, type('Config', (), {'block_size': 64})

    def __call__(self, idx):
        return self.table[idx], None


def test_forced_choice_scores_the_whole_option():
    meta = {'vocab_size': 5, 'tokenizer': 'char', 'stoi': {c: i for i, c in enumerate('#ab \n')},
            'itos': dict(enumerate('#ab \n'))}
    tok = T.Tokenizer(meta)
    table = torch.zeros(5, 5)
    table[tok.encode(' ')[0], tok.encode('a')[0]] = 5.0  # after '#### ', both options start with 'a'
    table[tok.encode('a')[0], tok.encode('b')[0]] = 1.0  # 'ab' only somewhat likely after 'a'
    table[tok.encode('b')[0], tok.encode('\n')[0]] = 3.0
    table[tok.encode('a')[0], tok.encode('\n')[0]] = 2.0
    model = BigramModel(table)
    prompt, generated = tok.encode('b\n'), tok.encode('a####')
    # 'ab\n': log p(a) + log p(b|a) + log p(\n|b); 'a\n': log p(a) + log p(\n|a), with p(\n|a) > p(b|a)
    lp = torch.log_softmax(table, -1)
    a, b, nl = (tok.encode(c)[0] for c in 'ab\n')
    ab = lp[a, b] + lp[b, nl]
    assert ab < lp[a, nl]
    for options in (['ab', 'a'], ['a', 'ab']):  # the same choice whichever option is listed first
        assert coconut.forced_choice(model, tok, prompt, generated, 5, options) == 'a'
    table[a, b] = 4.0  # now 'ab' is the likelier whole answer, though the first tokens still tie
    for options in (['ab', 'a'], ['a', 'ab']):
        assert coconut.forced_choice(model, tok, prompt, generated, 5, options) == 'ab'


@pytest.fixture(scope='module')
def prosqa(tmp_path_factory):
    out = tmp_path_factory.mktemp('prosqa')
    load_script('data/prosqa/prepare.py', 'prepare_prosqa').main(
        ['--train_size=150', '--val_size=16', '--test_size=40', f'--out_dir={out}'])
    return out


def test_prosqa_graphs_need_a_search_from_the_root(prosqa):
    prep = load_script('data/prosqa/prepare.py', 'prepare_prosqa')
    keys, splits = {}, {s: T.read_jsonl(str(prosqa / f'{s}.jsonl')) for s in ('train', 'val', 'test', 'test_deeper')}
    for split, records in splits.items():
        for r in records:
            edges, root, target, neg = [tuple(e) for e in r['edges']], r['root'], r['target'], r['neg_target']
            dist = prep.distances(edges, root)
            assert dist[target] == r['depth'] == len(r['steps']) and neg not in dist  # the distractor: not from the root
            assert prep.ancestors(edges, neg) >= r['depth']  # ... but from other nodes
            assert all(u < v for u, v in edges)  # one topological order: acyclic
            assert not any(u in (target, neg) for u, _ in edges)  # both options are sinks
            assert len(dist) - 1 - r['depth'] >= 3  # dead ends: the root reaches more than its path
            names = r['names']
            assert sorted(r['options']) == sorted([names[target], names[neg]]) and r['answer'] == names[target]
            # the steps are the facts of a shortest path root -> answer; every fact is in the prompt
            path = [root] + [names.index(step[1]) for step in r['steps']]
            assert names.index(r['steps'][0][0]) == root and all((u, v) in edges for u, v in zip(path, path[1:]))
            facts = r['prompt'].split('|')[0]
            assert sorted(facts[i:i + 2] for i in range(0, len(facts), 2)) == sorted(names[u] + names[v] for u, v in edges)
            assert r['prompt'].endswith(f"{names[root]}?{r['options'][0]}{r['options'][1]}\n")
            assert r['completion'] == ''.join(s + '\n' for s in r['steps']) + f"#### {r['answer']}\n"
            keys.setdefault(prep.graph_key((0, edges, root, target, neg)), set()).add(split)
    assert all(len(s) == 1 for s in keys.values())  # no graph in two splits
    assert {r['depth'] for r in splits['train']} <= {3, 4, 5, 6} and {r['depth'] for r in splits['test_deeper']} == {7}
    stats = prep.graph_stats(splits['train'])  # the official shape (22.8 nodes, 35.8 edges, depth 3.78, ...)
    assert stats['nodes'] == 23 and stats['edges'] == 36 and stats['root out-degree'] == 3
    assert 3.4 < stats['depth'] < 4.2 and 1.2 < stats['shortest paths to the answer'] < 2.2
    rules = prep.heuristics(splits['train'])  # no rule that skips the search beats a coin by much
    assert rules['no outgoing edge'] == rules['more incoming edges'] == 0.5 and rules['more ancestors'] < 0.62
    meta = T.load_meta(str(prosqa), 'prosqa')
    assert {vocab.BOT, vocab.LATENT, vocab.EOT, vocab.PAUSE} <= meta['special_tokens'].keys()


def test_prosqa_rules_are_scored_by_hand():
    prep = load_script('data/prosqa/prepare.py', 'prepare_prosqa')
    # root 0 -> 1 -> 3 (the answer); 2, 5, 6 -> 4 (the distractor), 7 -> 6; 5 -> 3 as well
    r = {'edges': [(0, 1), (1, 3), (2, 4), (5, 4), (5, 3), (6, 4), (7, 6)], 'n_nodes': 8, 'target': 3, 'neg_target': 4}
    assert prep.ancestors(r['edges'], 3) == 3 and prep.ancestors(r['edges'], 4) == 4  # {0, 1, 5} and {2, 5, 6, 7}
    rules = prep.heuristics([r])
    assert rules['more incoming edges'] == 0.0  # the distractor has 3 parents, the answer 2: the rule is wrong here
    assert rules['more ancestors'] == 0.0 and rules['no outgoing edge'] == 0.5  # both sinks: a coin
    r['edges'] = r['edges'][:-1]  # without 7 -> 6 the ancestors tie (3 and 3): a coin again
    assert prep.heuristics([r])['more ancestors'] == 0.5
    r['target'], r['neg_target'] = 4, 3  # the rules are symmetric in the options
    assert prep.heuristics([r])['more incoming edges'] == 1.0
    assert prep.shortest_paths([(0, 1), (0, 2), (1, 3), (2, 3), (0, 3)], 0, 3) == [[0, 3]]
    # root 0 -> 1 -> 3 (the answer), 0 -> 2 -> 5, 6: the child with more children (2) is the wrong step
    r = {'edges': [(0, 1), (0, 2), (1, 3), (2, 5), (2, 6)], 'root': 0, 'target': 3}
    assert prep.first_step_guess(r) == 0.0
    r['edges'].append((1, 7))  # now 1 and 2 have two children each: a coin
    assert prep.first_step_guess(r) == 0.5
    r['edges'].append((1, 8))
    assert prep.first_step_guess(r) == 1.0
    assert sorted(prep.shortest_paths([(0, 1), (0, 2), (1, 3), (2, 3)], 0, 3)) == [[0, 1, 3], [0, 2, 3]]


def test_curriculum_trains_on_the_official_json_files(tmp_path):
    src = tmp_path / 'gsm'
    src.mkdir()
    items = [{'question': f'Tom has {a} and {b} more.', 'steps': [f'<<{a}+{b}={a + b}>>'], 'answer': str(a + b)}
             for a in range(1, 5) for b in range(1, 4)]
    for suffix in ('train', 'valid', 'test'):
        (src / f'gsm_{suffix}.json').write_text(json.dumps(items))
    out = tmp_path / 'cc'
    coconut.curriculum([*TINY, '--block_size=64', f'--data_dir={src}', f'--out_dir={out}', '--model=coconut',
                        '--eval_interval=100', '--max_stage=1', '--stage_iters=1', '--last_iters=1', '--eval_limit=2'])
    stage1 = T.read_jsonl(str(out / 'data' / 'stage1' / 'train.jsonl'))
    assert stage1[0]['prompt'] == 'Tom has 1 and 1 more.\n' + vocab.BOT + vocab.LATENT + vocab.EOT
    assert stage1[0]['completion'] == '#### 2\n' and stage1[5]['answer'] == str(items[5]['answer'])
    assert [json.loads(line)['stage'] for line in open(out / 'stages.jsonl')] == [0, 1]
    (src / 'gsm_test.json').write_text(json.dumps([{'question': 'no steps'}]))
    with pytest.raises(T.UserError, match='gsm_test.json must be a JSON list of'):
        coconut.curriculum([*TINY, f'--data_dir={src}', f'--out_dir={out}', '--model=coconut'])


def test_frontier_scores_by_hand():
    # nodes: the root (0 hops), two at 1 hop, one at 2, two unreachable
    dist = [0, 1, 1, 2, None, None]
    auc, frontier = coconut.frontier_scores([5.0, 3.0, 1.0, 2.0, 0.0, 4.0], dist, 1)
    assert auc == pytest.approx(3 / 6)  # 3 beats 2, 0 (not 4); 1 beats 0 (not 2, 4)
    p = torch.tensor([5.0, 3.0, 1.0, 2.0, 0.0, 4.0]).softmax(0)
    assert frontier == pytest.approx((p[1] + p[2]).item())
    assert coconut.frontier_scores([0.0, 9.0, 8.0, 1.0, 1.0, 1.0], dist, 1)[0] == 1.0  # the 1-hop frontier on top
    assert coconut.frontier_scores([0.0, 0.0, 0.0, 9.0, 5.0, 5.0], dist, 2)[0] == pytest.approx(2 / 6)  # within 2 hops
    assert coconut.frontier_scores([1.0] * 6, dist, 1)[0] == 0.5  # ties: half


def test_latent_probe_reads_the_state_before_each_latent(prosqa, tmp_path):
    out = tmp_path / 'run'
    T.train(C.load_config([*TINY, '--block_size=128', f'--data_dir={prosqa}', f'--out_dir={out}', '--model=coconut',
                    '--max_iters=2', '--eval_interval=2']))
    result = coconut.latent_probe(str(out), str(prosqa / 'test.jsonl'), 3, limit=5)
    assert result['records'] == 5 and [row['k'] for row in result['latents']] == [1, 2, 3]
    assert all(0 <= row['auc_within_k'] <= 1 and 0 <= row['frontier_mass'] <= 1 for row in result['latents'])
    # by hand for one record: latent 1 reads the head at <bot>, latent 2 at latent 1
    model = T.model_from_checkpoint(T.load_checkpoint(str(out / 'ckpt.pt'))).eval()
    tok = vocab.Tokenizer(T.load_checkpoint(str(out / 'ckpt.pt'))['meta'])
    r = T.read_jsonl(str(prosqa / 'test.jsonl'))[0]
    ids = tok.encode(r['prompt'] + vocab.BOT + vocab.LATENT * 3 + vocab.EOT)
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([ids]))[0][0], -1)
    names = [tok.encode(n)[0] for n in r['names']]
    dist = coconut.distances_from(r['edges'], r['root'])
    one = coconut.latent_probe(str(out), str(prosqa / 'test.jsonl'), 3, limit=1)['latents']
    for k in (1, 2, 3):
        at = ids.index(tok.encode(vocab.BOT)[0]) + k - 1  # <bot> for latent 1, then the latents before
        auc, mass = coconut.frontier_scores(logp[at, names].tolist(), [dist.get(v) for v in range(len(names))], k)
        assert one[k - 1]['auc_within_k'] == pytest.approx(auc, abs=1e-4)
        assert one[k - 1]['frontier_mass'] == pytest.approx(mass, abs=1e-4)


@pytest.mark.parametrize('rendering', ['symbolic', 'words'])
def test_prosqa_reads_the_official_files(tmp_path, rendering):
    """--json_dir: a file of the official layout (written here) becomes the same records."""
    prep = load_script('data/prosqa/prepare.py', 'prepare_prosqa')
    official = tmp_path / 'official'
    official.mkdir()
    names = ['wumpus', 'rempus', 'lempus', 'zhorpus', 'gorpus', 'yimpus']
    item = {'question': 'Every wumpus is a rempus. Every rempus is a lempus. Every zhorpus is a gorpus. '
                        'Every yimpus is a wumpus. Tom is a wumpus. Is Tom a lempus or a gorpus?',
            'answer': 'Tom is a lempus.', 'steps': ['Every wumpus is a rempus.', 'Every rempus is a lempus.'],
            'idx_to_symbol': names, 'edges': [[0, 1], [1, 2], [3, 4], [5, 0]], 'root': 0, 'target': 2,
            'neg_target': 4}
    for name in prep.OFFICIAL_SPLITS.values():
        (official / name).write_text(json.dumps([item, item]))
    out = tmp_path / 'out'
    prep.main([f'--json_dir={official}', f'--rendering={rendering}', f'--out_dir={out}'])
    r = T.read_jsonl(str(out / 'train.jsonl'))[0]
    assert (r['root'], r['target'], r['neg_target'], r['depth']) == (0, 2, 4, 2)
    assert r['edges'] == [[0, 1], [1, 2], [3, 4], [5, 0]]
    got = r['names']
    assert r['answer'] == got[2] and sorted(r['options']) == sorted([got[2], got[4]])
    if rendering == 'words':
        assert got == names and r['prompt'] == item['question'] + '\n' and r['steps'] == item['steps']
    else:
        assert all(len(n) == 1 for n in got) and r['steps'] == [got[0] + got[1], got[1] + got[2]]
        assert r['prompt'].endswith(f"|0{got[0]}?{r['options'][0]}{r['options'][1]}\n")  # Tom is person 0
    (official / 'prosqa_test.json').write_text('[{"question": "x"}]')
    with pytest.raises(SystemExit):
        prep.main([f'--json_dir={official}', f'--out_dir={out}'])


def test_curriculum_runs_and_logs_every_stage(prosqa, tmp_path):
    out = tmp_path / 'cc'
    args = [*TINY, '--block_size=256', f'--data_dir={prosqa}', f'--out_dir={out}', '--model=coconut',
            '--eval_interval=100', '--max_stage=2', '--stage_iters=2', '--last_iters=3', '--eval_limit=8',
            '--reset_optimizer=False']
    coconut.curriculum(args)
    rows = [json.loads(l) for l in open(out / 'stages.jsonl')]
    assert [r['stage'] for r in rows] == [0, 1, 2] and [r['iters'] for r in rows] == [2, 4, 7]
    assert [r['thought_tokens'] for r in rows] == [0, 1, 2]
    assert all(0 <= r['choice_accuracy'] <= 1 and r['n'] == 8 for r in rows)  # ProsQA records name their options
    assert [r['train_flops'] / rows[0]['train_flops'] for r in rows] == pytest.approx([1, 2, 3.5])  # 2, 4, 7 iters
    test = T.read_jsonl(str(out / 'data' / 'stage2' / 'test.jsonl'))[:8]
    depths = [r['depth'] for r in test]
    by_depth = rows[-1]['accuracy_by_depth']
    assert sorted(by_depth) == sorted(map(str, set(depths)))
    assert sum(acc * depths.count(int(d)) for d, acc in by_depth.items()) == pytest.approx(rows[-1]['correct'], abs=1e-3)
    assert max(depths) < 7 and all(r['deeper']['n'] == 8 for r in rows)  # --depths up to 6; test_deeper: 7
    assert all(list(r['deeper']['accuracy_by_depth']) == ['7'] for r in rows)
    assert '| cc | coconut | 0..2 | 7 |' in plot.coconut_table([str(out / 'stages.jsonl')], ['cc'])
    plot.main([str(out / 'stages.jsonl'), '--figure=coconut', f'--out={tmp_path / "stages.png"}'])
    assert (tmp_path / 'stages.png').stat().st_size > 0
    assert T.load_checkpoint(str(out / 'run' / 'ckpt.pt'))['iter_num'] == 7  # one run, resumed
    probe = coconut.step_probe(str(out / 'run'), str(prosqa / 'test.jsonl'), limit=8)
    records = T.read_jsonl(str(prosqa / 'test.jsonl'))[:8]
    assert probe['records'] == 8 and probe['steps'] == sum(len(r['steps']) for r in records)
    assert 0 <= probe['path_child'] <= probe['children'] <= 1 and 0 <= probe['options'] <= 1  # the path's child is a child
    assert 0 <= probe['argmax_path'] <= probe['argmax_child'] <= 1
    with pytest.raises(T.UserError, match='arm must be one of'):
        coconut.read_curriculum(['--model=coconut', '--arm=latent'])
    cfg = tmp_path / 'cur.py'  # curriculum keys in a config file, like every other key
    cfg.write_text("model = 'coconut'\narm = 'pause'\nc = 2\n")
    cur, config = coconut.read_curriculum([str(cfg), '--max_stage=2'])
    assert (cur['arm'], cur['c'], cur['max_stage']) == ('pause', 2, 2) and 'arm' not in config
    with pytest.raises(T.UserError, match='unknown config key stages'):
        coconut.read_curriculum([str(cfg), '--stages=2'])


def test_relisted_steps_are_random_facts_of_each_graph(tmp_path, capsys):
    """--relist=N: every record's steps are N distinct facts of its own graph (not the path; the
    prompt and the answer unchanged), written as the completion; a negative N is a one-line error."""
    prep = load_script('data/prosqa/prepare.py', 'prepare_prosqa')
    small = ['--depths=3:1', '--n_reach=8', '--n_other=4', '--n_edges=14', '--train_size=30', '--val_size=4',
             '--test_size=4']
    prep.main(small + [f'--out_dir={tmp_path / "path"}'])
    prep.main(small + ['--relist=5', f'--out_dir={tmp_path / "relist"}'])
    paths, relists = (T.read_jsonl(str(tmp_path / d / 'train.jsonl')) for d in ('path', 'relist'))
    assert any(a['steps'] != b['steps'] for a, b in zip(paths, relists))
    for a, b in zip(paths, relists):
        names, facts = b['names'], b['prompt'].split('|')[0]
        pairs = [facts[i:i + 2] for i in range(0, len(facts), 2)]
        assert a['prompt'] == b['prompt'] and a['answer'] == b['answer']
        assert len(b['steps']) == len(set(b['steps'])) == 5 and set(b['steps']) <= set(pairs)
        assert b['completion'] == ''.join(s + '\n' for s in b['steps']) + f"#### {b['answer']}\n"
    with pytest.raises(SystemExit):
        prep.main(small + ['--relist=-1', f'--out_dir={tmp_path / "bad"}'])
    assert '--relist must be >= 0' in capsys.readouterr().err


@pytest.mark.parametrize('rendering', ['symbolic', 'words'])
def test_question_first_moves_only_the_question(tmp_path, rendering):
    """--question_first: the same graphs, facts and completions; the prompt is the question, its
    separator, then the facts in the same order."""
    prep = load_script('data/prosqa/prepare.py', 'prepare_prosqa')
    small = ['--depths=3:1', '--n_reach=8', '--n_other=4', '--n_edges=14', '--train_size=20', '--val_size=4',
             '--test_size=4', f'--rendering={rendering}']
    prep.main(small + [f'--out_dir={tmp_path / "last"}'])
    prep.main(small + ['--question_first', f'--out_dir={tmp_path / "first"}'])
    lasts, firsts = (T.read_jsonl(str(tmp_path / d / 'test.jsonl')) for d in ('last', 'first'))
    sep = '|' if rendering == 'symbolic' else '\n'
    for a, b in zip(lasts, firsts):
        facts, question = a['prompt'][:-1].split(sep)
        assert b['prompt'] == b['question'] == question + sep + facts + '\n'
        assert (a['completion'], a['options'], a['edges']) == (b['completion'], b['options'], b['edges'])


def test_tiny_graphs_repeat_shapes_only_when_asked(tmp_path, capsys):
    prep = load_script('data/prosqa/prepare.py', 'prepare_prosqa')
    tiny = ['--depths=1:1', '--n_reach=3', '--n_other=2', '--n_edges=4', '--root_degree=2',
            '--train_size=300', '--val_size=4', '--test_size=40', f'--out_dir={tmp_path}']
    with pytest.raises(SystemExit):  # a handful of shapes: not 344 distinct graphs
        prep.main(tiny)
    assert 'no new graph of depth 1' in capsys.readouterr().err
    prep.main(tiny + ['--same_shapes'])
    records = T.read_jsonl(str(tmp_path / 'train.jsonl'))
    assert len(records) == 300 and len({prep.graph_key((0, [tuple(e) for e in r['edges']], r['root'], r['target'],
                                                        r['neg_target'])) for r in records}) < 50
    for r in records:  # one hop: the answer's fact starts at the root, the distractor's does not
        names, facts = r['names'], r['prompt'].split('|')[0]
        pairs = {facts[i:i + 2] for i in range(0, len(facts), 2)}
        assert names[r['root']] + r['answer'] in pairs and r['steps'] == [names[r['root']] + r['answer']]
        assert not any(p[1] == names[r['neg_target']] and p[0] == names[r['root']] for p in pairs)
    assert max(prep.heuristics(records).values()) <= 0.55  # the rules still see a coin


def test_a_short_run_reads_the_facts_then_beats_the_rules(tmp_path):
    """On 5-node graphs whose steps are random facts (--relist), 800 iterations of a small model
    must make the likeliest node after X one of X's children (read off the prompt's pairs) in
    >= 75% of the steps. A model blind to the pairing can do no better than guess among the
    graph's other nodes (at most ~50%: 1-2 children among 4). Then, from it, 1,000 iterations of
    CoT on one-hop graphs (the answer is the root's only child) must answer >= 85% of 200 test
    graphs, where every one-line rule, and any model that ignores the facts, scores ~50%."""
    prep = load_script('data/prosqa/prepare.py', 'prepare_prosqa')
    data = tmp_path / 'data'
    prep.main(['--depths=1:1', '--n_reach=3', '--n_other=2', '--n_edges=4', '--root_degree=2', '--same_shapes',
               '--relist=4', '--train_size=20000', '--val_size=20', '--test_size=200', f'--out_dir={data}'])
    T.train(C.load_config([*TINY, '--block_size=64', f'--data_dir={data}', f'--out_dir={tmp_path / "run"}',
                           '--model=coconut', '--n_embd=64', '--n_head=4', '--batch_size=32', '--learning_rate=3e-3',
                           '--tie_embeddings=False', '--embed_std=1.0', '--init_std=0.05', '--max_iters=800',
                           '--eval_interval=800', '--log_interval=800']))
    probe = coconut.step_probe(str(tmp_path / 'run'), str(data / 'test.jsonl'), limit=200)
    assert probe['steps'] == 800 and probe['argmax_child'] >= 0.75, probe
    easy = tmp_path / 'easy'
    prep.main(['--depths=1:1', '--n_reach=2', '--n_other=2', '--n_edges=3', '--root_degree=1', '--same_shapes',
               '--train_size=20000', '--val_size=20', '--test_size=200', f'--out_dir={easy}'])
    assert max(prep.heuristics(T.read_jsonl(str(easy / 'test.jsonl'))).values()) <= 0.55
    coconut.curriculum([*TINY, '--block_size=64', f'--data_dir={easy}', f'--out_dir={tmp_path / "cot"}',
                        '--model=coconut', '--n_embd=64', '--n_head=4', '--batch_size=32', '--learning_rate=3e-3',
                        '--tie_embeddings=False', '--embed_std=1.0', '--init_std=0.05', '--arm=cot',
                        f'--init_from={tmp_path / "run"}', '--last_iters=1000', '--eval_interval=1000',
                        '--log_interval=1000'])
    row = json.loads(open(tmp_path / 'cot' / 'stages.jsonl').readline())
    assert row['n'] == 200 and row['accuracy'] >= 0.85, row
