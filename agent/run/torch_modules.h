// libtorch modules for layer types that libtorch's C++ API lacks or shapes differently from
// the layer model (batch-first attention, pre-norm encoder layers, ViT's learned tokens).
//
// Included only by torch_executor.cc: a header, not a translation unit, so that libtorch's
// headers are still compiled once for the whole agent.
#pragma once

#include <torch/torch.h>

namespace wattfleet::torch_modules {

// A boolean mask that hides future tokens ([L, L], true above the diagonal), or an undefined
// tensor when `causal` is false. Built once per module and length, not per iteration.
inline torch::Tensor CausalMask(bool causal, int64_t length, const torch::Tensor& like) {
  if (!causal) return {};
  return torch::ones({length, length}, torch::TensorOptions().dtype(torch::kBool).device(
                                           like.device()))
      .triu(1);
}

// Self-attention over a batch-first sequence [N, L, E]; libtorch's module is sequence-first.
struct SelfAttentionImpl : torch::nn::Module {
  SelfAttentionImpl(int64_t embed_dim, int64_t heads, bool bias, double dropout, bool causal)
      : causal(causal) {
    attn = register_module("attn", torch::nn::MultiheadAttention(
                                        torch::nn::MultiheadAttentionOptions(embed_dim, heads)
                                            .bias(bias)
                                            .dropout(dropout)));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    const torch::Tensor seq = x.transpose(0, 1);
    if (causal && (!mask.defined() || mask.size(0) != seq.size(0))) {
      mask = CausalMask(true, seq.size(0), seq);
    }
    // need_weights = false: the averaged attention map is not part of the layer's work.
    return std::get<0>(attn->forward(seq, seq, seq, {}, false, mask)).transpose(0, 1);
  }
  torch::nn::MultiheadAttention attn{nullptr};
  bool causal;
  torch::Tensor mask;
};
TORCH_MODULE(SelfAttention);

// A Transformer encoder block over [N, L, E]: post-norm (libtorch's and BERT's) or pre-norm
// (GPT's and ViT's), ReLU or GELU feed-forward, optional causal mask. The parameters are
// those of torch.nn.TransformerEncoderLayer and of torchvision's ViT EncoderBlock.
struct EncoderLayerImpl : torch::nn::Module {
  EncoderLayerImpl(int64_t d_model, int64_t heads, int64_t ff, double dropout, bool gelu,
                   bool norm_first, bool causal)
      : gelu(gelu), norm_first(norm_first) {
    attn = register_module("self_attn", SelfAttention(d_model, heads, true, dropout, causal));
    linear1 = register_module("linear1", torch::nn::Linear(d_model, ff));
    linear2 = register_module("linear2", torch::nn::Linear(ff, d_model));
    norm1 = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d_model})));
    norm2 = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d_model})));
    drop = register_module("dropout", torch::nn::Dropout(dropout));
  }
  torch::Tensor FeedForward(const torch::Tensor& x) {
    torch::Tensor h = linear1->forward(x);
    h = gelu ? torch::gelu(h) : torch::relu(h);
    return drop->forward(linear2->forward(drop->forward(h)));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    if (norm_first) {
      torch::Tensor y = x + drop->forward(attn->forward(norm1->forward(x)));
      return y + FeedForward(norm2->forward(y));
    }
    torch::Tensor y = norm1->forward(x + drop->forward(attn->forward(x)));
    return norm2->forward(y + FeedForward(y));
  }
  SelfAttention attn{nullptr};
  torch::nn::Linear linear1{nullptr}, linear2{nullptr};
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  torch::nn::Dropout drop{nullptr};
  bool gelu;
  bool norm_first;
};
TORCH_MODULE(EncoderLayer);

// Prepends a learned token to a sequence [N, L, C] -> [N, L + 1, C] (ViT's class token).
struct ClassTokenImpl : torch::nn::Module {
  explicit ClassTokenImpl(int64_t width) {
    token = register_parameter("token", torch::zeros({1, 1, width}));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return torch::cat({token.expand({x.size(0), -1, -1}), x}, 1);
  }
  torch::Tensor token;
};
TORCH_MODULE(ClassToken);

// Adds a learned table that broadcasts over the batch (positional embeddings, shape [L, C]);
// with `scale`, multiplies by it instead (ConvNeXt's layer scale, shape [C, 1, 1]).
struct LearnedTableImpl : torch::nn::Module {
  LearnedTableImpl(std::vector<int64_t> shape, bool scale) : scale(scale) {
    table = register_parameter("table", torch::randn(shape) * 0.02);
  }
  torch::Tensor forward(const torch::Tensor& x) { return scale ? x * table : x + table; }
  torch::Tensor table;
  bool scale;
};
TORCH_MODULE(LearnedTable);

}  // namespace wattfleet::torch_modules
