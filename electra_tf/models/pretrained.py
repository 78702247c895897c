"""`from_pretrained` and `save_pretrained` for the models, through
`electra_tf.checkpoints` (imported on use: that package builds models)."""


class PretrainedMixin:
    """Loading and saving in every checkpoint format; a model class names
    its loader in `electra_tf.checkpoints` as `_checkpoint_loader`."""

    _checkpoint_loader = None

    @classmethod
    def from_pretrained(cls, path, hparams=None):
        """The model stored at `path`: our checkpoints, original TF1 ones
        (pass their `hparams`) or Hugging Face folders."""
        from electra_tf import checkpoints

        return getattr(checkpoints, cls._checkpoint_loader)(path, hparams)

    def save_pretrained(self, path, format="hf", vocab_file=None):
        """Writes this model as `format`: 'hf', 'original' or, for a
        pre-trainer, 'ours'."""
        from electra_tf import checkpoints

        return checkpoints.save_model(self, path, format, vocab_file)
