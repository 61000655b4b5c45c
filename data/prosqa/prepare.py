"""
ProsQA (Hao et al. 2024, "Training Large Language Models to Reason in a Continuous Latent
Space"): is a person a member of one concept or of another, given a graph of "every X is a
Y" facts? Each example is its own random directed acyclic graph. The person is a member of
the root; the answer (target) is reachable from the root, the distractor (neg_target) is
reachable from other nodes but not from the root. The root also leads to dead ends, and
several paths may lead to the answer, so finding it is a search, not one chain to follow.

Two renderings of the same graphs:

    words     prompt      Every wumo is a lesi. Every tazu is a wumo. ... Every kovi is a pame.
                          Tom is a tazu. Is Tom a pame or a rila?
              completion  Every tazu is a wumo.
                          Every wumo is a lesi.
                          ...
                          #### pame
    symbolic  prompt      wlbwkqtk...|3b?pr      (the facts as pairs: 'wl' is "every w is an l";
                                                  '|', the person 3 and the root b, '?', the options)
              completion  bw\\nwl\\n...\\n#### p   (the facts of a shortest path root -> answer)

One token per concept and per person in the symbolic rendering (concepts are the letters
a-z, A-Z, drawn afresh for each graph; persons the digits), one per character in the words
one. Symbolic is the default: it is what a small model learns on a CPU (about 80 tokens
per record against ~900 characters). Both the answer and the distractor are sinks (no
outgoing edge), so "pick the option with no outgoing edge" is a coin flip.

The graphs follow the official data's statistics (reported in the README beside ours; this
script prints its own): depth (shortest path root -> answer) 3-6 with mean ~3.8, ~23 nodes,
~36 edges, ~13 nodes reachable from the root, ~1.6 shortest paths to the answer, root
out-degree 3. How: the nodes reachable from the root are laid out in layers by distance
(each node one parent in the layer before, the answer in the last layer), the others get a
chain of `depth` nodes that ends at the distractor; then random extra edges are added that
go one layer deeper at most (so no distance shrinks), never from the root's side to the
other side (so the distractor stays unreachable), never out of the two options, and always
forward in one node order (so the graph stays acyclic).

Records: {"prompt", "completion", "question" (= prompt), "steps", "answer", "options",
"depth", "n_nodes", "edges" (node index pairs), "root", "target", "neg_target", "names"
(index -> concept as written)}. test_deeper.jsonl holds graphs one step deeper than any in
training (out of distribution). meta.pkl: the characters plus Coconut's markers and <pause>.

    python data/prosqa/prepare.py                                   # symbolic, 20,000 train graphs
    python data/prosqa/prepare.py --rendering=words --out_dir=data/prosqa_words
    python data/prosqa/prepare.py --depths=3:1 --n_reach=8 --n_other=4 --n_edges=14   # a smaller graph
    python data/prosqa/prepare.py --json_dir=DIR    # the official prosqa_{train,valid,test}.json
    python data/prosqa/prepare.py --relist=8 --out_dir=data/prosqa_relist8   # steps: 8 random facts (warm-up)
    python data/prosqa/prepare.py --question_first   # '3b?pr|wlbw...': the question before the facts

--json_dir reads the files of facebookresearch/coconut (a JSON list of {question, answer,
steps, idx_to_symbol, edges, root, target, neg_target} per split) and writes the same records
in either rendering, so a user with the real data trains on it.
"""

import argparse
import json
import os
import pickle
import random
import string
import sys
from collections import deque

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..'))  # the repository root: vocab.py
import vocab  # noqa: E402
from vocab import UserError, check_writable, cli_errors  # noqa: E402

RENDERINGS = ('symbolic', 'words')
CONCEPTS = string.ascii_lowercase + string.ascii_uppercase
PERSON_TOKENS = string.digits
PERSONS = ('Tom', 'Alex', 'Sally', 'Max', 'Jack', 'Sam', 'Rex', 'Polly', 'Wren', 'Fae')
CONSONANTS = 'bcdfghjklmnpqrstvwxz'
VOWELS = 'aeiou'
OFFICIAL = {'nodes': 22.8, 'edges': 35.8, 'depth': 3.78, 'reachable from the root': 13.4,
            'shortest paths to the answer': 1.57, 'root out-degree': 3.0}
OFFICIAL_SPLITS = {'train': 'prosqa_train.json', 'val': 'prosqa_valid.json', 'test': 'prosqa_test.json'}


# -----------------------------------------------------------------------------
# graphs

def children_of(edges):
    """{node: [its children]}."""
    children = {}
    for u, v in edges:
        children.setdefault(u, []).append(v)
    return children


def distances(edges, start):
    """Hops from start to every node it reaches (breadth first)."""
    children = children_of(edges)
    dist, todo = {start: 0}, deque([start])
    while todo:
        u = todo.popleft()
        for v in children.get(u, []):
            if v not in dist:
                dist[v] = dist[u] + 1
                todo.append(v)
    return dist


def shortest_paths(edges, root, target):
    """Every shortest path root -> target, as node lists."""
    dist = distances(edges, root)
    if target not in dist:
        return []
    parents = {}
    for u, v in edges:
        if u in dist and v in dist and dist[v] == dist[u] + 1:
            parents.setdefault(v, []).append(u)

    def back(v):
        return [[root]] if v == root else [p + [v] for u in parents.get(v, []) for p in back(u)]
    return back(target)


def layers_of(rng, first, n, depth, degree):
    """Nodes first..first+n-1 in layers by distance from the first: the top, `degree` nodes
    below it, then at least one node per layer down to `depth`, the rest spread at random."""
    sizes = [1, min(degree, n - depth)] + [1] * (depth - 1)
    for _ in range(n - sum(sizes)):
        sizes[rng.randint(2, depth) if depth >= 2 else 1] += 1
    layers, node = [], first
    for size in sizes:
        layers.append(list(range(node, node + size)))
        node += size
    return layers


def make_graph(rng, depth, n_reach, n_other, n_edges, root_degree):
    """(n_nodes, edges, root, target, neg_target), nodes numbered in a topological order: the
    distractor's side first (0..n_other-1), then the root's. Both sides are built alike: a top
    node, layers by distance, each node one parent in the layer before, the option in the
    last layer; the distractor's top is a concept the person is not."""
    n_reach, n_other = max(n_reach, root_degree + depth), max(n_other, depth + 1)
    other = layers_of(rng, 0, n_other, depth, root_degree)
    mine = layers_of(rng, n_other, n_reach, depth, root_degree)
    n_nodes, root, target, neg = n_other + n_reach, mine[0][0], mine[depth][-1], other[depth][-1]
    layer_of = {v: (side, i) for side, layers in enumerate((other, mine)) for i, layer in enumerate(layers) for v in layer}
    edges = {(rng.choice(layers[i - 1]), v) for layers in (other, mine) for i in range(1, len(layers)) for v in layers[i]}

    def allowed(u, v):
        if u >= v or u in (target, neg) or (u, v) in edges:
            return False  # backwards (a cycle could close), out of an option, or a repeat
        (su, lu), (sv, lv) = layer_of[u], layer_of[v]
        if su == sv:
            return lv <= lu + 1  # never deeper than one layer: no distance shrinks
        return target not in distances(edges, v)  # the distractor's side into the root's dead ends only
    # the two options get the same number of extra parents, so their in-degrees tie
    parents = [[u for u in range(n_nodes) if allowed(u, option)] for option in (target, neg)]
    k = rng.randint(0, min(2, *map(len, parents)))
    edges |= {(u, option) for option, candidates in zip((target, neg), parents) for u in rng.sample(candidates, k)}
    for _ in range(100 * n_edges):
        if len(edges) >= n_edges:
            break
        u, v = rng.randrange(n_nodes), rng.randrange(n_nodes)
        if v not in (target, neg) and allowed(u, v):
            edges.add((u, v))
    return n_nodes, sorted(edges), root, target, neg


def ancestors(edges, v):
    """How many nodes reach v."""
    return sum(v in distances(edges, u) for u in {u for e in edges for u in e} - {v})


def graph_stats(records):
    """The means the official data is described by, over records with a graph."""
    rows = [(r['n_nodes'], r['edges'], r['root'], r['target']) for r in records]
    return {'nodes': sum(n for n, _, _, _ in rows) / len(rows),
            'edges': sum(len(e) for _, e, _, _ in rows) / len(rows),
            'depth': sum(distances(e, a)[t] for _, e, a, t in rows) / len(rows),
            'reachable from the root': sum(len(distances(e, a)) - 1 for _, e, a, _ in rows) / len(rows),
            'shortest paths to the answer': sum(len(shortest_paths(e, a, t)) for _, e, a, t in rows) / len(rows),
            'root out-degree': sum(sum(u == a for u, _ in e) for _, e, a, _ in rows) / len(rows)}


def heuristics(records):
    """Accuracy of one-line rules that need no search, ties broken by a coin (counted as half)."""
    def score(rule):
        total = 0.0
        for r in records:
            a, b = rule(r, r['target']), rule(r, r['neg_target'])
            total += 1.0 if a > b else 0.5 if a == b else 0.0
        return total / len(records)
    out_degree = lambda r, v: -sum(u == v for u, _ in r['edges'])  # noqa: E731 (fewer outgoing edges wins)
    in_degree = lambda r, v: sum(w == v for _, w in r['edges'])  # noqa: E731
    return {'random option': 0.5, 'no outgoing edge': score(out_degree), 'more incoming edges': score(in_degree),
            'more ancestors': score(lambda r, v: ancestors(r['edges'], v))}


def first_step_guess(record):
    """How often a first step without look-ahead starts a shortest path to the answer: the
    root's child with the most children (ties: a coin). A chain of thought that has not
    learned to look ahead can score about this on its first step (and on the rest, a lookup)."""
    children = children_of(record['edges'])
    kids = children.get(record['root'], [])
    most = max(len(children.get(v, [])) for v in kids)
    best = [v for v in kids if len(children.get(v, [])) == most]
    on_path = {path[1] for path in shortest_paths(record['edges'], record['root'], record['target'])}
    return sum(v in on_path for v in best) / len(best)


# -----------------------------------------------------------------------------
# renderings

def concept_words(rng, n, name_len=4):
    """n distinct made-up words of alternating consonants and vowels."""
    names = set()
    while len(names) < n:
        names.add(''.join(rng.choice(CONSONANTS if k % 2 == 0 else VOWELS) for k in range(name_len)))
    return rng.sample(sorted(names), n)


def fact_text(names, u, v, rendering):
    """The fact u -> v as written: 'wl' (symbolic) or 'Every wumo is a lesi.' (words)."""
    return names[u] + names[v] if rendering == 'symbolic' else f"Every {names[u]} is a {names[v]}."


def render(rng, graph, rendering, names=None, person=None, path=None):
    """A record of graph (n_nodes, edges, root, target, neg_target) with its facts shuffled
    and the options in random order. names: index -> concept (drawn if None); path: the
    shortest path written as the steps (drawn among the shortest if None)."""
    n_nodes, edges, root, target, neg = graph
    path = path or rng.choice(shortest_paths(edges, root, target))
    symbolic = rendering == 'symbolic'
    if names is None:
        if symbolic and n_nodes > len(CONCEPTS):
            raise UserError(f"a graph of {n_nodes} nodes has more concepts than the {len(CONCEPTS)} symbols")
        names = rng.sample(CONCEPTS, n_nodes) if symbolic else concept_words(rng, n_nodes)
    person = person or rng.choice(PERSONS)
    facts = list(edges)
    rng.shuffle(facts)
    options = [names[target], names[neg]]
    rng.shuffle(options)
    hops = list(zip(path, path[1:]))
    if symbolic:
        who = PERSON_TOKENS[PERSONS.index(person) % len(PERSON_TOKENS)] if person in PERSONS else rng.choice(PERSON_TOKENS)
        prompt = ''.join(fact_text(names, u, v, rendering) for u, v in facts) + \
            f"|{who}{names[root]}?{options[0]}{options[1]}\n"
    else:
        prompt = (' '.join(fact_text(names, u, v, rendering) for u, v in facts) +
                  f"\n{person} is a {names[root]}. Is {person} a {options[0]} or a {options[1]}?\n")
    steps = [fact_text(names, u, v, rendering) for u, v in hops]
    return {'prompt': prompt, 'completion': ''.join(s + '\n' for s in steps) + f"#### {names[target]}\n",
            'question': prompt, 'steps': steps, 'answer': names[target], 'options': options,
            'depth': len(hops), 'n_nodes': n_nodes, 'edges': [list(e) for e in edges], 'root': root,
            'target': target, 'neg_target': neg, 'names': list(names)}


def relisted(rng, record, n, rendering):
    """The record with n random facts of its graph as its steps instead of the path: a warm-up
    whose every step is a lookup ("which facts start with X?"), the circuit the question needs."""
    facts = rng.sample(record['edges'], min(n, len(record['edges'])))
    steps = [fact_text(record['names'], u, v, rendering) for u, v in facts]
    return {**record, 'steps': steps, 'completion': ''.join(s + '\n' for s in steps) + f"#### {record['answer']}\n"}


def question_first(record, rendering):
    """The record with its question before the facts ('3b?pr|wlbw...' / "Tom is a b. Is Tom a p
    or an r?" then the sentences): a causal model then reads every fact knowing the root and
    the options, instead of having to recall the facts at the question."""
    facts, question = record['prompt'].rstrip('\n').split('|' if rendering == 'symbolic' else '\n', 1)
    prompt = question + ('|' if rendering == 'symbolic' else '\n') + facts + '\n'
    return {**record, 'prompt': prompt, 'question': prompt}


def parse_depths(text):
    """'3:45,4:35,5:17,6:3' -> {depth: weight}."""
    try:
        depths = {int(d): float(w) for d, w in (item.split(':') for item in text.split(','))}
    except ValueError:
        depths = {}
    if not depths or min(depths) < 1 or min(depths.values()) < 0 or sum(depths.values()) <= 0:
        raise UserError(f"--depths={text} must be depth:weight pairs, e.g. 3:45,4:35,5:17,6:3 (depths >= 1)")
    return depths


def graph_key(graph):
    return tuple(graph[1]), graph[2], graph[3], graph[4]


def balanced_graph(rng, depth, args, seen, tries=1000):
    """A new graph of this depth whose options differ by at most --ancestor_gap in how many
    nodes reach them (else counting ancestors would answer without a search from the root)."""
    for _ in range(tries):
        graph = make_graph(rng, depth, args.n_reach, args.n_other, args.n_edges, args.root_degree)
        gap = abs(ancestors(graph[1], graph[3]) - ancestors(graph[1], graph[4]))
        if gap <= args.ancestor_gap and graph_key(graph) not in seen:
            return graph
    raise UserError(f"no new graph of depth {depth} with options {args.ancestor_gap} ancestors apart in {tries} "
                    f"tries: change --n_reach, --n_other, --n_edges or --ancestor_gap")


def make_splits(args):
    """{split: records} of fresh graphs; test_deeper is one step deeper than any depth drawn.
    No graph (edges, root and options, by index) is in two splits or twice in one, unless
    --same_shapes (tiny graphs have few shapes; their names and fact order still differ)."""
    depths = parse_depths(args.depths)
    rng = random.Random(f'prosqa:{args.seed}')
    seen, splits = set(), {}
    sizes = {'train': args.train_size, 'val': args.val_size, 'test': args.test_size, 'test_deeper': args.test_size}
    for split, size in sizes.items():
        rows = []
        for _ in range(size):
            depth = max(depths) + 1 if split == 'test_deeper' else rng.choices(list(depths), list(depths.values()))[0]
            graph = balanced_graph(rng, depth, args, seen)
            if not args.same_shapes:
                seen.add(graph_key(graph))
            rows.append(render(rng, graph, args.rendering))
        splits[split] = rows
    return splits


# -----------------------------------------------------------------------------
# the official files

def official_record(rng, item, rendering, where):
    """One item of the official JSON as our record, in the chosen rendering. The steps' path is
    read from the official steps (each names the concept it reaches, last word)."""
    try:
        names, edges = list(item['idx_to_symbol']), sorted({(int(u), int(v)) for u, v in item['edges']})
        root, target, neg = int(item['root']), int(item['target']), int(item['neg_target'])
        person = item['question'].split('. ')[-2].split()[0] if '. ' in item['question'] else None
        reached = [s.rstrip('.').split()[-1] for s in item['steps']]
        path = [root] + [names.index(name) for name in reached]
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise UserError(f"{where}: an official ProsQA item needs question, steps, idx_to_symbol, edges, root, target "
                        f"and neg_target, and steps that end in a concept ({type(e).__name__}: {e})")
    if any((u, v) not in set(edges) for u, v in zip(path, path[1:])) or path[-1] != target:
        path = None  # steps not along edges to the target: write a shortest path instead
    graph = (len(names), edges, root, target, neg)
    record = render(rng, graph, rendering, names=None if rendering == 'symbolic' else names, person=person, path=path)
    if rendering == 'words':
        record.update(prompt=item['question'].rstrip() + '\n', question=item['question'].rstrip() + '\n')
    return record


def read_official(json_dir, rendering, seed):
    rng = random.Random(f'prosqa-json:{seed}')
    splits = {}
    for split, name in OFFICIAL_SPLITS.items():
        path = os.path.join(json_dir, name)
        if not os.path.isfile(path):
            raise UserError(f"no {path}: --json_dir needs {', '.join(OFFICIAL_SPLITS.values())} "
                            f"(from facebookresearch/coconut's data)")
        try:
            items = json.load(open(path))
        except json.JSONDecodeError as e:
            raise UserError(f"{path} is not JSON ({e})")
        if not isinstance(items, list) or not items:
            raise UserError(f"{path} must hold a non-empty JSON list of ProsQA items")
        splits[split] = [official_record(rng, item, rendering, f"{path} item {i}") for i, item in enumerate(items)]
    return splits


# -----------------------------------------------------------------------------

def make_meta(splits):
    chars = sorted(set(''.join(r['prompt'] + r['completion'] for rows in splits.values() for r in rows)) |
                   set(CONCEPTS + PERSON_TOKENS))
    meta = {'vocab_size': len(chars), 'tokenizer': 'char',
            'stoi': {c: i for i, c in enumerate(chars)}, 'itos': {i: c for i, c in enumerate(chars)}}
    return vocab.add_special_tokens(meta, [vocab.BOT, vocab.LATENT, vocab.EOT, vocab.PAUSE])


def stats_table(records):
    ours = graph_stats(records)
    lines = ['| statistic | official ProsQA | here |', '|---|---|---|']
    lines += [f"| {k} | {OFFICIAL[k]} | {v:.2f} |" for k, v in ours.items()]
    return '\n'.join(lines)


def check(args):
    if min(args.train_size, args.val_size) < 1 or args.test_size < 0:
        raise UserError("--train_size and --val_size must be >= 1, --test_size >= 0")
    if args.root_degree < 1 or args.n_reach < args.root_degree + 1 or args.n_other < 1 or args.n_edges < 1:
        raise UserError("need --root_degree >= 1, --n_reach > --root_degree, --n_other >= 1 and --n_edges >= 1")


def prepare(args):
    check_writable(args.out_dir)
    if args.relist < 0:
        raise UserError(f"--relist must be >= 0 (0: the steps are the path), got {args.relist}")
    if args.json_dir:
        splits = read_official(args.json_dir, args.rendering, args.seed)
    else:
        check(args)
        splits = make_splits(args)
    if args.relist:
        rng = random.Random(f'prosqa-relist:{args.seed}')
        splits = {split: [relisted(rng, r, args.relist, args.rendering) for r in rows] for split, rows in splits.items()}
    if args.question_first:
        splits = {split: [question_first(r, args.rendering) for r in rows] for split, rows in splits.items()}
    for split, rows in splits.items():
        vocab.write_split(args.out_dir, split, rows, None, False)
    meta = make_meta(splits)
    meta.update(task='prosqa', rendering=args.rendering)
    vocab.write_atomic(os.path.join(args.out_dir, 'meta.pkl'), pickle.dumps(meta))
    longest = max(len(r['prompt']) + len(r['completion']) for rows in splits.values() for r in rows)
    print(', '.join(f"{split} {len(rows):,}" for split, rows in splits.items()) +
          f" {args.rendering} records in {args.out_dir}; vocab {meta['vocab_size']}; longest record {longest} tokens")
    print(stats_table(splits['train']))
    test = splits['test'] or splits['val']
    print('one-line rules on ' + ('test' if splits['test'] else 'val') + ': ' +
          ', '.join(f"{k} {v:.1%}" for k, v in heuristics(test).items()))
    print(f"first step without look-ahead (the root's child with the most children) on a shortest path: "
          f"{sum(map(first_step_guess, test)) / len(test):.1%}")
    return splits


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--rendering', default='symbolic', choices=RENDERINGS)
    p.add_argument('--json_dir', default='', help='read the official prosqa_{train,valid,test}.json from here instead')
    p.add_argument('--train_size', type=int, default=20_000)
    p.add_argument('--val_size', type=int, default=500)
    p.add_argument('--test_size', type=int, default=1_000, help='test and test_deeper graphs each')
    p.add_argument('--depths', default='3:45,4:35,5:17,6:3', help='depth:weight of the answer (mean 3.78 as official)')
    p.add_argument('--n_reach', type=int, default=14, help='nodes the root reaches, itself included (about)')
    p.add_argument('--n_other', type=int, default=9, help="nodes the root does not reach, the distractor's side")
    p.add_argument('--n_edges', type=int, default=36, help='edges per graph (at most)')
    p.add_argument('--root_degree', type=int, default=3, help="the root's children before the extra edges")
    p.add_argument('--ancestor_gap', type=int, default=1, help='most nodes more that reach one option than the other')
    p.add_argument('--same_shapes', action='store_true', help='let graphs repeat a shape (by node index): for tiny graphs')
    p.add_argument('--relist', type=int, default=0,
                   help='N > 0: the steps are N random facts of the graph, not the path (a lookup warm-up)')
    p.add_argument('--question_first', action='store_true', help='the question (person, root, options) before the facts')
    p.add_argument('--seed', type=int, default=1337)
    p.add_argument('--out_dir', default=HERE, help="where the files go (default: this script's directory)")
    args = p.parse_args(argv)
    with cli_errors():
        prepare(args)


if __name__ == '__main__':
    main()
