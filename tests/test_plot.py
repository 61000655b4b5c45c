"""plot.py: curves and a table from run logs, bars from accuracy results, clear errors."""

import json

import pytest

import plot


def write_log(path, losses):
    rows = [{'iter': 10 * i, 'train_loss': tr, 'val_loss': va, 'flops': 1e9 * (i + 1), 'tokens': 1000 * (i + 1),
             'time': 6.0 * (i + 1)} for i, (tr, va) in enumerate(losses)]
    path.write_text(''.join(json.dumps(r) + '\n' for r in rows))
    return str(path)


def test_table_reports_the_last_and_best_eval(tmp_path, capsys):
    log = write_log(tmp_path / 'a.jsonl', [(2.0, 2.1), (1.5, 1.6), (1.4, 1.7)])
    plot.main([log, '--labels=arm', '--table'])
    row = capsys.readouterr().out.splitlines()[-1]
    assert row.startswith('| arm | 1 | 20 | 1.4000 | 1.7000 | 1.6000 (10) |')


def test_table_of_record_runs_gives_iterations_to_50_and_90_percent(tmp_path, capsys):
    logs = []
    for name, exact in (('a', [0.0, 0.6, 0.95]), ('b', [0.0, 0.2, 0.5])):
        path = tmp_path / f'{name}.jsonl'
        write_log(path, [(2.0, 2.0)] * 3)
        rows = [{**json.loads(line), 'val_exact': e} for line, e in zip(path.read_text().splitlines(), exact)]
        path.write_text(''.join(json.dumps(r) + '\n' for r in rows))
        logs.append(str(path))
    plot.main([*logs, '--labels=arm,arm', '--table'])
    row = capsys.readouterr().out.splitlines()[-1]
    # final exact 95% and 50%: mean 72.5, sd 31.8; 50% reached at iterations 10 and 20, 90% only by a
    assert row.endswith('| 72.5 +- 31.8% | 10 / 20 | 20 / - |')


def test_runs_sharing_a_label_are_seeds(tmp_path, capsys):
    a = write_log(tmp_path / 'a.jsonl', [(2.0, 2.1), (1.5, 1.6), (1.4, 1.7)])
    b = write_log(tmp_path / 'b.jsonl', [(2.0, 2.1), (1.5, 1.8), (1.2, 1.9)])
    c = write_log(tmp_path / 'c.jsonl', [(2.0, 2.1), (1.0, 1.0)])
    plot.main([a, b, c, '--labels=arm,arm,other', '--table'])
    rows = capsys.readouterr().out.splitlines()
    # final val 1.7 and 1.9: mean 1.8, sd 0.1414; best 1.6 and 1.8; final train 1.4 and 1.2
    assert rows[-2].startswith('| arm | 2 | 20 | 1.3000 +- 0.1414 | 1.8000 +- 0.1414 | 1.7000 +- 0.1414 |')
    assert rows[-1].startswith('| other | 1 | 10 | 1.0000 | 1.0000 | 1.0000 (10) |')
    plot.main([a, b, c, '--labels=arm,arm,other', f'--out={tmp_path / "seeds.png"}'])
    plot.main([a, b, c, '--labels=arm,arm,other', '--x=time', f'--out={tmp_path / "seeds_time.png"}'])
    assert (tmp_path / 'seeds.png').stat().st_size > 1000


def test_curves_and_bars_write_images(tmp_path):
    log = write_log(tmp_path / 'a.jsonl', [(2.0, 2.1), (1.5, 1.6)])
    plot.main([log, '--x=flops', f'--out={tmp_path / "curves.png"}'])
    results = []
    for name, acc in (('filler', 0.97), ('nofiller', 0.61)):
        results.append(tmp_path / f'{name}.json')
        results[-1].write_text(json.dumps({'accuracy': acc, 'correct': 1, 'n': 1}))
    plot.main([str(r) for r in results] + ['--bars', '--labels=filler,nofiller', f'--out={tmp_path / "bars.png"}'])
    assert (tmp_path / 'curves.png').stat().st_size > 1000
    assert (tmp_path / 'bars.png').stat().st_size > 1000


def test_accuracy_of_seeds_is_grouped_by_label(tmp_path, capsys):
    paths = []
    for i, acc in enumerate((0.30, 0.40, 0.50, 0.90)):
        paths.append(str(tmp_path / f'{i}.json'))
        open(paths[-1], 'w').write(json.dumps({'accuracy': acc, 'correct': 1, 'n': 1}))
    plot.main(paths + ['--bars', '--table', '--labels=K=0,K=0,K=0,deeper'])
    out = capsys.readouterr().out
    assert '| K=0 | 3 | 40.0% +- 10.0% | 30.0%, 40.0%, 50.0% |' in out and '| deeper | 1 | 90.0% | 90.0% |' in out
    plot.main(paths + ['--bars', '--labels=K=0,K=0,K=0,deeper', f'--out={tmp_path / "bars.png"}'])
    assert (tmp_path / 'bars.png').stat().st_size > 1000


def test_accuracy_by_setting_groups_arms_and_seeds(tmp_path, capsys):
    paths = []
    for i, acc in enumerate((0.30, 0.50, 0.90, 0.20, 1.0)):
        paths.append(str(tmp_path / f'{i}.json'))
        open(paths[-1], 'w').write(json.dumps({'accuracy': acc, 'correct': 1, 'n': 1}))
    out = tmp_path / 'by_k.png'
    plot.main(paths + ['--figure=accuracy_by', '--labels=K=0@k=2,K=0@k=2,K=0@k=1,K=1@k=2,K=1@k=3', f'--out={out}'])
    table = capsys.readouterr().out
    assert '| arm | k=2 | k=1 | k=3 |' in table  # settings in order of first appearance
    assert '| K=0 | 40.0 +- 14.1% (2) | 90.0% (1) | - |' in table and '| K=1 | 20.0% (1) | - | 100.0% (1) |' in table
    assert out.stat().st_size > 1000
    with pytest.raises(SystemExit):
        plot.main(paths[:1] + ['--figure=accuracy_by', '--labels=K=0', f'--out={out}'])
    assert 'ARM@SETTING' in capsys.readouterr().err


def test_bars_refuse_a_file_without_accuracy(tmp_path):
    bad = tmp_path / 'bad.json'
    bad.write_text('{"loss": 1.0}')
    with pytest.raises(SystemExit, match="no 'accuracy'"):
        plot.main([str(bad), '--bars', f'--out={tmp_path / "x.png"}'])


def test_labels_must_match_runs(tmp_path):
    log = write_log(tmp_path / 'a.jsonl', [(2.0, 2.1)])
    with pytest.raises(SystemExit, match='1 labels for 2 runs'):
        plot.main([log, log, '--labels=one', '--table'])


def test_testtime_figure_tables_each_method_and_setting(tmp_path, capsys):
    rows = [{'method': 'greedy', 'accuracy': 0.4, 'se': 0.022, 'tokens_per_question': 20.0, 'flops_per_question': 2e6},
            {'method': 'majority', 'k': 4, 'accuracy': 0.5, 'se': 0.022, 'tokens_per_question': 80.0,
             'flops_per_question': 8e6, 'reflection': False},
            {'method': 'mcts', 'simulations': 8, 'action': 'ministep', 'branching': 3, 'accuracy': 0.45, 'se': 0.022,
             'tokens_per_question': 900.0, 'flops_per_question': 9e7, 'reflection': True},
            {'method': 'budget', 'min_think': 20, 'max_think': None, 'wait': 'Wait', 'accuracy': 0.2, 'se': 0.018,
             'tokens_per_question': 34.0, 'flops_per_question': 3e6, 'reflection': False},
            {'method': 'budget', 'min_think': 0, 'max_think': 6, 'wait': None, 'accuracy': 0.01, 'se': 0.004,
             'tokens_per_question': 21.0, 'flops_per_question': 2e6, 'reflection': False}]
    log = tmp_path / 'testtime.jsonl'
    log.write_text(''.join(json.dumps(r) + '\n' for r in rows))
    out = tmp_path / 'tt.png'
    plot.main([str(log), '--figure=testtime', '--labels=sft', f'--out={out}'])
    lines = capsys.readouterr().out.splitlines()
    assert '| sft | greedy | - | 40.0 +- 2.2 | 20 | 2e+06 |' in lines
    assert '| sft | majority | k 4 | 50.0 +- 2.2 | 80 | 8e+06 |' in lines
    assert '| sft | mcts ministep + reflection | simulations 8, branching 3 | 45.0 +- 2.2 | 900 | 9e+07 |' in lines
    assert "| sft | budget wait 'Wait' | min_think 20 | 20.0 +- 1.8 | 34 | 3e+06 |" in lines
    assert '| sft | budget max | min_think 0, max_think 6 | 1.0 +- 0.4 | 21 | 2e+06 |' in lines
    assert out.exists()


def test_testtime_figure_rejects_a_training_log(tmp_path, capsys):
    log = write_log(tmp_path / 'a.jsonl', [(2.0, 2.1)])
    with pytest.raises(SystemExit):
        plot.main([log, '--figure=testtime', f"--out={tmp_path / 'x.png'}"])
    assert "no rows with 'method': is it the testtime.jsonl" in capsys.readouterr().err


def test_tpo_figure_tables_start_and_end_over_seeds(tmp_path, capsys):
    logs = []
    for seed, end in ((1, 0.5), (2, 0.7)):
        rows = [{'iter': 0, 'eval_greedy': 0.4, 'eval_thought_tokens': 19.0, 'eval_steps_right_when_right': 0.9,
                 'total_rollouts': 0},
                {'iter': 1, 'rollouts': 80, 'pairs': 6, 'ties': 4, 'pairs_right_over_wrong': 0.5, 'eval_greedy': end,
                 'eval_thought_tokens': 20.0, 'eval_steps_right_when_right': None, 'total_rollouts': 80}]
        path = tmp_path / f'tpo{seed}.jsonl'
        path.write_text(''.join(json.dumps(r) + '\n' for r in rows))
        logs.append(str(path))
    plot.main([*logs, '--figure=tpo', '--labels=TPO,TPO', f"--out={tmp_path / 'tpo.png'}"])
    row = capsys.readouterr().out.splitlines()[2]
    assert row == '| TPO | 2 | 1 | 80 | 40.0 +- 0.0 -> 60.0 +- 14.1 | 20.0 +- 0.0 | - | 40.0 +- 0.0 | 50.0 +- 0.0 |'


def test_quietstar_answers_figure_reads_flops_from_the_log_beside_each_curve(tmp_path, capsys):
    paths = []
    for name, acc in (('qs-s1', 0.9), ('qs-s2', 0.7)):
        write_log(tmp_path / f'{name}.jsonl', [(1.0, 1.0), (0.5, 0.5), (0.2, 0.2)])  # iters 0, 10, 20: 1e9, 2e9, 3e9 FLOPs
        rows = [{'iter': it, 'records': 4, 'base_accuracy': 0.25, 'mixed_accuracy': a, 'swapped_accuracy': 0.25,
                 'thought_is_chain': a, 'mix_weight': 0.5} for it, a in ((10, 0.5), (20, acc))]
        (tmp_path / f'curve-{name}.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in rows))
        paths.append(str(tmp_path / f'curve-{name}.jsonl'))
    write_log(tmp_path / 'plain.jsonl', [(1.0, 1.0), (0.5, 0.5)])
    (tmp_path / 'curve-plain.jsonl').write_text(json.dumps({'iter': 10, 'records': 4, 'base_accuracy': 0.5}) + '\n')
    plot.main([*paths, str(tmp_path / 'curve-plain.jsonl'), '--figure=quietstar_answers', '--labels=QS,QS,plain',
               f"--out={tmp_path / 'qa.png'}"])
    lines = capsys.readouterr().out.splitlines()
    # the mixed accuracy is the answer's, 80 +- 14.1 over the two seeds; the plain GPT's is its direct one
    assert lines[2] == '| QS | 2 | 20 | 3.00e+09 | 80.0 +- 14.1 | 25.0 +- 0.0 | 25.0 +- 0.0 | 80.0 +- 14.1 | 0.50 +- 0.00 |'
    assert lines[3] == '| plain | 1 | 10 | 2.00e+09 | 50.0 | 50.0 | - | - | - |'
    (tmp_path / 'qs-s2.jsonl').unlink()
    with pytest.raises(SystemExit):
        plot.main([paths[1], '--figure=quietstar_answers', f"--out={tmp_path / 'qa.png'}"])
    assert "needs the run's log beside it" in capsys.readouterr().err


def test_think_rl_figure_draws_the_share_of_groups_with_signal(tmp_path, capsys):
    """A think.py log with the share of groups with signal (new runs) and one without (old runs):
    both draw; the table has each run's first and last evaluation."""
    evals = [{'iter': i, 'val_nll_think': 0.5 - i / 1000, 'val_nll_plain': 0.5, 'val_think_rate': 1 / 3,
              'val_acc_think': 0.4 + i / 1000, 'val_acc_plain': 0.4} for i in (0, 100)]
    train = [{'iter': i, 'think_per_text': 1 / 3, 'groups_with_signal': i / 100} for i in range(0, 100, 10)]
    new, old = tmp_path / 'slot.jsonl', tmp_path / 'old.jsonl'
    new.write_text(''.join(json.dumps(r) + '\n' for r in evals[:1] + train + evals[1:]))
    old.write_text(''.join(json.dumps({k: v for k, v in r.items() if k != 'groups_with_signal'}) + '\n'
                           for r in evals[:1] + train + evals[1:]))
    plot.main([str(new), str(old), '--figure=think_rl', '--labels=slot,old', f'--out={tmp_path / "t.png"}'])
    rows = capsys.readouterr().out.splitlines()
    assert '| slot | 100 | 0.3333 | 0.4000 | 0.5000 | 0.500 | 0.400 | 0.450 |' in rows  # share: mean of 0, 0.1, .., 0.9
    assert '| old | 100 | 0.3333 | 0.4000 | 0.5000 | 0.500 | 0.400 | - |' in rows
    assert sum(r.startswith(('| slot |', '| old |')) for r in rows) == 4
    assert (tmp_path / 't.png').stat().st_size > 1000


def test_think_answers_table_averages_seeds_and_the_mutual_information(tmp_path, capsys):
    """think.py answers results of two seeds and a score.py result (no think columns): the
    table's means +- sd by hand, '-' where a column is missing, MI per node averaged."""
    def write(name, **r):
        (tmp_path / name).write_text(json.dumps(r))
        return str(tmp_path / name)
    a = write('a.json', accuracy=0.4, acc_random=0.3, acc_plain=0.5, nll_think=0.5, nll_plain=0.4,
              mi_bits_with_path=[0.1, 0.5])
    b = write('b.json', accuracy=0.6, acc_random=0.5, acc_plain=0.5, nll_think=0.3, nll_plain=0.4,
              mi_bits_with_path=[0.3, 1.5])
    c = write('c.json', accuracy=0.9)
    plot.main([a, b, c, '--figure=think_answers', '--labels=slot,slot,ceiling', f'--out={tmp_path / "t.png"}'])
    rows = capsys.readouterr().out.splitlines()
    slot = '| slot | 2 | 50.0 +- 14.1 | - | 40.0 +- 14.1 | 50.0 +- 0.0 | 0.400 +- 0.141 | - | 0.400 +- 0.000 | 0.20, 1.00 |'
    assert slot in rows
    assert '| ceiling | 1 | 90.0 | - | - | - | - | - | - | - |' in rows
    assert (tmp_path / 't.png').stat().st_size > 1000
