"""
Configuration for every script: Python files of assignments, then --key=value overrides,
applied in order; an unknown key or a value of the wrong type is an error that names it.

    python train.py config/cpu.py --max_iters=100 --device=cpu

train.py's keys are DEFAULTS plus the fields of the idea's config dataclass (the config's
`model = 'X'` picks the GPT subclass in X.py); a script with keys of its own passes them as
`extra` (coconut.py's curriculum, think.py's RL) or reads its own table (grpo.py).
"""

import ast
import difflib
import os

import torch

from model import config_fields, idea_class
from vocab import UserError, add_special_tokens

DEFAULTS = dict(
    # I/O
    out_dir='out',
    eval_interval=250,
    eval_iters=20,  # batches per split per evaluation; always the same batches
    log_interval=10,
    eval_only=False,
    always_save_checkpoint=True,  # False: save only when val loss improves
    init_from='scratch',  # 'scratch', 'resume' (out_dir/ckpt.pt), another run's out_dir or ckpt.pt (fine-tune it), 'gpt2*' or a local HF dir
    # data
    dataset='shakespeare_char',
    data_dir='',  # default: data/<dataset>
    train_tokens=0,  # train on only the first N tokens of train.bin (0: all); reaches overfitting sooner
    gradient_accumulation_steps=1,  # total over all processes
    batch_size=12,
    # model: which idea; its fields (n_layer, block_size, ...) are keys too
    model='gpt',
    # AdamW
    learning_rate=6e-4,
    max_iters=5000,
    weight_decay=1e-1,
    beta1=0.9,
    beta2=0.95,
    grad_clip=1.0,  # 0 disables
    # learning rate: linear warmup then cosine down to min_lr
    decay_lr=True,
    warmup_iters=100,
    lr_decay_iters=0,  # 0: max_iters
    min_lr=6e-5,
    # system
    device='auto',  # 'auto' (cuda > mps > cpu), 'cpu', 'cuda', 'cuda:1', 'mps'
    dtype='auto',  # 'auto' (bfloat16 on CUDA if supported, else float16 on CUDA, else float32)
    compile=False,  # torch.compile the model
    seed=1337,
    peak_flops=0.0,  # for MFU; 0: A100 bf16 (312e12) on CUDA, not shown elsewhere
    progress='tqdm',  # 'tqdm' bar or 'lines' (nanoGPT-style lines)
    cpu_config='',  # a GPU-sized config names its CPU-sized twin, suggested when a CPU would take hours
)
MODEL_ONLY = {'vocab_size'}  # comes from the dataset's meta.pkl, never from the config


# -----------------------------------------------------------------------------
# configuration

def parse_value(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a bare string, e.g. --dataset=shakespeare_char


def read_config_file(path):
    """A config file is Python assignments; returns its public names."""
    if not os.path.isfile(path):
        raise UserError(f"config file {path} {'is a directory' if os.path.isdir(path) else 'not found'}")
    ns = {}
    try:
        with open(path) as f:
            exec(compile(f.read(), path, 'exec'), ns)
    except Exception as e:
        raise UserError(f"config file {path} does not run: {type(e).__name__}: {e}")
    return {k: v for k, v in ns.items() if not k.startswith('_') and not callable(v)
            and type(v).__name__ != 'module'}


def special_fields(model_name):
    """The idea's config fields that hold a special token's id (its class's special_tokens):
    filled from the vocabulary, never written in a config."""
    return idea_class(model_name).special_tokens


def idea_meta(config, meta):
    """The dataset's meta with the special tokens the config's idea needs appended (those it
    lacks): what the run's tokenizer, model and checkpoint use."""
    return add_special_tokens(meta, idea_class(config['model']).token_names(config))


def from_meta(model_name):
    return MODEL_ONLY | special_fields(model_name).keys()


def known_keys(model_name):
    keys = dict(DEFAULTS)
    keys.update({k: v for k, v in config_fields(model_name).items() if k not in from_meta(model_name)})
    return keys


def check_type(key, value, default):
    if isinstance(default, bool) or isinstance(value, bool):
        ok = type(value) is type(default)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float))
        value = float(value) if ok else value
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise UserError(f"config key {key} must be {type(default).__name__}, got {value!r} "
                        f"({type(value).__name__})")
    return value


def read_args(args):
    """Config files and --key=value overrides, applied in order: the keys given."""
    given = {}
    for arg in args:
        if arg.startswith('--'):
            key, sep, text = arg[2:].partition('=')
            if not sep:
                raise UserError(f"override {arg} needs a value: --{key}=VALUE")
            given[key] = parse_value(text)
        else:
            given.update(read_config_file(arg))
    return given


def apply_config(given, known, meta_keys=()):
    """known (key -> default) updated with the given keys; an unknown key or a wrong type is a
    UserError naming it."""
    config = dict(known)
    for key, value in given.items():
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            if key in meta_keys:
                hint = "; it comes from the dataset's meta.pkl"
            raise UserError(f"unknown config key {key}{hint} (known keys: {', '.join(sorted(known))})")
        config[key] = check_type(key, value, known[key])
    return config


def read_config(args, defaults):
    """A script's own table of keys (grpo.py's): files and overrides over defaults."""
    return apply_config(read_args(args), defaults)


def load_config(args, extra=None):
    """train.py's configuration: files and --key=value overrides, applied in order, checked
    before any work. extra: a script's own keys (name -> default), read the same way."""
    given = read_args(args)
    model_name = given.get('model', DEFAULTS['model'])
    try:
        known = known_keys(model_name)
    except ValueError as e:
        raise UserError(f"config key model: {e}")
    known.update(extra or {})
    config = apply_config(given, known, from_meta(model_name))
    check_values(config)
    return config


def check_ranges(c, positive=(), nonnegative=(), unit=(), choices=None):
    """Each key's value in its range, else a UserError naming the key: positive (> 0),
    nonnegative (>= 0), unit (in [0, 1)), choices (key -> allowed values)."""
    for key in positive:
        if not c[key] > 0:
            raise UserError(f"config key {key} must be > 0, got {c[key]}")
    for key in nonnegative:
        if not c[key] >= 0:
            raise UserError(f"config key {key} must be >= 0, got {c[key]}")
    for key in unit:
        if not 0 <= c[key] < 1:
            raise UserError(f"config key {key} must be in [0, 1), got {c[key]}")
    for key, allowed in (choices or {}).items():
        if c[key] not in allowed:
            raise UserError(f"config key {key} must be one of {', '.join(map(str, allowed))}, got {c[key]!r}")


def check_values(c):
    check_ranges(c, positive=('batch_size', 'gradient_accumulation_steps', 'eval_interval', 'eval_iters', 'log_interval'),
                 nonnegative=('max_iters', 'train_tokens', 'warmup_iters', 'lr_decay_iters', 'learning_rate', 'min_lr',
                              'weight_decay', 'grad_clip', 'peak_flops'),
                 unit=('beta1', 'beta2'),
                 choices={'progress': ('tqdm', 'lines'), 'dtype': ('auto', 'float32', 'bfloat16', 'float16')})
    # the idea's own checks (n_embd divisible by n_head, block_size > 0, ...), before any data
    stand_in = {'vocab_size': 2**16, 'special_tokens': {t: 0 for t in special_fields(c['model']).values()}}
    model_args(c, stand_in)


def model_args(config, meta):
    """The idea's config fields as plain data: the config's, plus the vocabulary size and the
    special tokens' ids from the dataset's meta."""
    name = config['model']
    args = {k: config[k] for k in config_fields(name) if k not in from_meta(name)}
    args['vocab_size'] = meta['vocab_size']
    for field, token in special_fields(name).items():
        args[field] = meta['special_tokens'][token]  # idea_meta put it there
    try:
        idea_class(name).config_class(**args)  # validates
    except (ValueError, TypeError) as e:
        raise UserError(f"config: {e}")
    return args


# -----------------------------------------------------------------------------
# the machine a run names

def pick_device(name):
    """'auto': cuda > mps > cpu; any other name is checked against this machine first, so a
    device it lacks is one line, not a traceback from deep inside torch."""
    if name == 'auto':
        if torch.cuda.is_available():
            return 'cuda'
        if torch.backends.mps.is_available():
            return 'mps'
        return 'cpu'
    usage = "use auto, cpu, cuda, cuda:N or mps"
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise UserError(f"device {name!r} is not a device name: {usage}")
    if device.type == 'cuda':
        if not torch.cuda.is_available():
            raise UserError(f"device {name!r}: CUDA is not available here (torch {torch.__version__}); use --device=cpu or auto")
        n = torch.cuda.device_count()
        if device.index is not None and device.index >= n:
            raise UserError(f"device {name!r}: this machine has {n} CUDA device(s), cuda:0 to cuda:{n - 1}")
        return name
    if device.type == 'mps' and not torch.backends.mps.is_available():
        raise UserError(f"device {name!r}: MPS (Apple GPU) is not available here; use --device=cpu or auto")
    if device.type not in ('cpu', 'mps'):
        raise UserError(f"device {name!r} is not supported: {usage}")
    return device.type  # 'cpu:0' is the cpu


def native_bf16():
    """This CPU multiplies bfloat16 in hardware (AMX or AVX-512 BF16; Linux's cpu flags)."""
    try:
        with open('/proc/cpuinfo') as f:
            flags = set(f.read().split())
    except OSError:
        return False
    return bool(flags & {'amx_bf16', 'avx512_bf16'})


def pick_dtype(name, device_type, n_embd=0):
    """'auto': bfloat16 on CUDA where supported, else float16; on a CPU with native bfloat16,
    bfloat16 autocast from 256 wide (measured in bench.py: 2.06x the fp32 step at 384 wide,
    1.51x at 256, 1.25x at 192, 0.95x at 128: the small models, and every arm of the small
    comparisons, stay fp32); float32 elsewhere."""
    if name != 'auto':
        return name
    if device_type == 'cuda':
        return 'bfloat16' if torch.cuda.is_bf16_supported() else 'float16'
    if device_type == 'cpu' and n_embd >= 256 and native_bf16():
        return 'bfloat16'
    return 'float32'
