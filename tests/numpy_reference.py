"""An independent NumPy statement of the original model math (float64).

Written from the paper and the original's model/modeling.py (BertModel), to
check our Keras layers value by value. Weights are passed as dicts keyed by
the original checkpoint names.
"""

import math

import numpy as np

_erf = np.vectorize(math.erf)


def gelu(x):
    return x * 0.5 * (1.0 + _erf(x / math.sqrt(2.0)))


def log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def sigmoid_cross_entropy(logits, labels):
    """tf.nn.sigmoid_cross_entropy_with_logits, in its stable form."""
    return (
        np.maximum(logits, 0) - logits * labels + np.log1p(np.exp(-abs(logits)))
    )


def layer_norm(x, gamma, beta, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def dense(x, w, prefix, act=None):
    y = x @ w[prefix + "/kernel"] + w[prefix + "/bias"]
    return act(y) if act else y


def embeddings(w, prefix, input_ids, segment_ids):
    length = input_ids.shape[1]
    x = w[prefix + "/word_embeddings"][input_ids]
    x = x + w[prefix + "/token_type_embeddings"][segment_ids]
    x = x + w[prefix + "/position_embeddings"][:length][None]
    return layer_norm(
        x, w[prefix + "/LayerNorm/gamma"], w[prefix + "/LayerNorm/beta"]
    )


def attention_mask(input_mask, causal=None):
    mask = np.repeat(input_mask[:, None, :], input_mask.shape[1], 1).astype(float)
    tri = np.tril(np.ones(mask.shape[1:]))
    if causal == "ltr":
        mask = mask * tri
    elif causal == "rtl":
        mask = mask * tri.T
    return mask


def self_attention(w, prefix, x, mask, heads):
    b, length, h = x.shape
    d = h // heads

    def split(t):
        return t.reshape(b, length, heads, d).transpose(0, 2, 1, 3)

    q = split(dense(x, w, prefix + "/self/query"))
    k = split(dense(x, w, prefix + "/self/key"))
    v = split(dense(x, w, prefix + "/self/value"))
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d)
    scores = scores + (1.0 - mask[:, None]) * -10000.0
    scores = scores - scores.max(-1, keepdims=True)
    probs = np.exp(scores)
    probs = probs / probs.sum(-1, keepdims=True)
    context = (probs @ v).transpose(0, 2, 1, 3).reshape(b, length, h)
    out = dense(context, w, prefix + "/output/dense") + x
    return layer_norm(
        out,
        w[prefix + "/output/LayerNorm/gamma"],
        w[prefix + "/output/LayerNorm/beta"],
    )


def transformer_layer(w, prefix, x, mask, heads):
    a = self_attention(w, prefix + "/attention", x, mask, heads)
    inner = dense(a, w, prefix + "/intermediate/dense", gelu)
    out = dense(inner, w, prefix + "/output/dense") + a
    return layer_norm(
        out, w[prefix + "/output/LayerNorm/gamma"], w[prefix + "/output/LayerNorm/beta"]
    )


def encoder(w, scope, config, input_ids, input_mask, segment_ids,
            emb_scope="electra", causal=None):
    """Returns (embedding_output, sequence_output) of one network."""
    x = embeddings(w, emb_scope + "/embeddings", input_ids, segment_ids)
    if scope + "/embeddings_project/kernel" in w:
        x = dense(x, w, scope + "/embeddings_project")
    emb = x
    mask = attention_mask(input_mask, causal)
    for i in range(config["num_hidden_layers"]):
        x = transformer_layer(
            w, f"{scope}/encoder/layer_{i}", x, mask, config["num_attention_heads"]
        )
    return emb, x


def mlm_logits(w, prefix, hidden, table):
    x = dense(hidden, w, prefix + "/dense", gelu)
    x = layer_norm(x, w[prefix + "/LayerNorm/gamma"], w[prefix + "/LayerNorm/beta"])
    return x @ table.T + w[prefix + "/output_bias"]


def discriminator_logits(w, sequence_output):
    x = dense(sequence_output, w, "discriminator_predictions/dense", gelu)
    return dense(x, w, "discriminator_predictions/dense_1")[..., 0]


def gather(sequence, positions):
    return np.stack([s[p] for s, p in zip(sequence, positions)])


def weights_of(model):
    """A Keras model's weights as a float64 dict keyed by variable path."""
    return {v.path: np.asarray(v, dtype=np.float64) for v in model.weights}
