"""
Pause tokens (Goyal et al. 2023, "Think before you speak: training language models with
pause tokens"): M copies of a learnable <pause> token before the answer give the model M more
positions of computation before it must commit to the first answer token. The pauses take no
loss (nothing says what a pause should predict); they only delay. The paper's claim (1B model,
C4 pre-training): gains on 8 of 9 tasks (SQuAD +18% EM, CommonSenseQA +8%) only when the model
is pause-pre-trained as well as pause-fine-tuned; pauses added at fine-tuning alone help little.

Pause fine-tuning is data only: M '<pause>' names after the prompt of task records
(python vocab.py pause_records SRC_DIR OUT_DIR --n_pause=M, or data/3sum/prepare.py
--n_pause=M); the prompt takes no loss, so the last pause predicts the first answer token;
meta records n_pause, and sample.py appends the same M pauses at inference. Filler tokens
(Pfau et al. 2024, "Let's think dot by dot") are the same idea with '.' as the token, tested
on 3SUM (data/3sum).

Pause pre-training is the model below (config: model = 'pause'): in training its forward
inserts pauses at random places of each sequence and takes no loss where the next token is a
pause. train.py is unchanged: the batches are the plain text batches, so any token stream
with <pause> in its meta serves, and every batch gets fresh pause places.

    python train.py config/pause_pretrain.py       # pause pre-training (model = 'pause')
    python train.py config/pause_finetune.py       # fine-tuning on records with pauses
    python score.py out-pause data/addition_pause/test.jsonl
"""

from dataclasses import dataclass

import torch

from model import GPT, GPTConfig, insert_tokens, lm_loss, random_slots
from vocab import PAUSE


@dataclass
class PauseConfig(GPTConfig):
    pause_fraction: float = 0.1  # pauses inserted per position in training (Goyal et al.: 10%)
    pause_id: int = -1  # the id of <pause>: train.py fills it

    def __post_init__(self):
        super().__post_init__()
        if not 0.0 <= self.pause_fraction < 1.0:
            raise ValueError(f"pause_fraction must be in [0, 1), got {self.pause_fraction}")
        if self.pause_id < 0:
            raise ValueError("pause_id must be set (train.py sets it from the dataset's meta.pkl)")


class PauseGPT(GPT):
    """The GPT, pre-trained with pauses. In training, k = round(pause_fraction * T) pauses go
    at random places of each row of T tokens (never first: every pause follows a text token);
    the sequence keeps its length T, so its last k text tokens drop out, as when Goyal et al.
    trim to the context. No loss where the next token is a pause: a pause is never a target,
    and the last slot before each text token predicts it, whether that slot is text or pause.
    forward returns the logits of the text tokens that took part, (B, T-k, V), aligned with
    idx[:, :T-k]. In eval mode and in generate there are no inserted pauses (the logits are
    aligned with all of idx, and val loss compares with the plain GPT); pauses already in the
    text are never targets in any mode. pause_fraction = 0 is exactly the GPT."""
    config_class = PauseConfig
    special_tokens = {'pause_id': PAUSE}
    stream_only = True  # in padded records the inserted pauses would push out the last tokens, the answers

    def __init__(self, config):
        super().__init__(config)
        if config.pause_id >= config.vocab_size:
            raise ValueError(f"pause_id {config.pause_id} is not in the vocabulary of {config.vocab_size}")

    def forward(self, idx, targets=None):
        if targets is not None:
            targets = targets.masked_fill(targets == self.config.pause_id, -1)
        B, T = idx.shape
        k = min(round(self.config.pause_fraction * T), T - 1)
        if targets is None or not self.training or k == 0:
            return super().forward(idx, targets)
        is_pause = random_slots(B, T, k, idx.device)
        stream, stream_targets = insert_tokens(idx, targets, is_pause, torch.full_like(idx, self.config.pause_id))
        logits = self.head(self.blocks(self.embed(stream)))
        text_logits = logits[~is_pause].view(B, T - k, -1)
        return text_logits, lm_loss(logits, stream_targets)
