// A same-padded, stride-1 3x3 NHWC convolution with a bias (and optionally a ReLU, applied in the
// same pass) and its gradients, computed by oneDNN and called from XLA through its FFI
// (jaxdqn/native/onednn.py builds this file and registers the three handlers). Arrays are float32:
// x [N, H, W, Cin], w [3, 3, Cin, Cout] (HWIO), b [Cout], y [N, H, W, Cout].
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <memory>
#include <mutex>
#include <tuple>
#include <unordered_map>

#include "oneapi/dnnl/dnnl.hpp"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;
using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

namespace {

dnnl::engine& cpu() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// One in-order stream per calling thread (a CPU stream runs each primitive before returning).
dnnl::stream& stream() {
  thread_local dnnl::stream s(cpu());
  return s;
}

struct Shape {
  int64_t n, h, w, ci, co;
  bool operator<(const Shape& o) const { return std::tie(n, h, w, ci, co) < std::tie(o.n, o.h, o.w, o.ci, o.co); }
};

// The primitives for one shape, built once: oneDNN generates their code when they are created.
struct Conv {
  memory::desc src, dst, user_weights, bias;
  dnnl::convolution_forward::primitive_desc fwd_pd, fwd_relu_pd;
  dnnl::convolution_backward_data::primitive_desc data_pd;
  dnnl::convolution_backward_weights::primitive_desc weights_pd;
  dnnl::convolution_forward fwd, fwd_relu;
  dnnl::convolution_backward_data data;
  dnnl::convolution_backward_weights weights;
  dnnl::reorder to_fwd_weights, to_data_weights, from_weights_grad;
};

Conv& conv_for(const Shape& s) {
  static std::mutex mu;
  static std::map<Shape, Conv> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(s);
  if (it != cache.end()) return it->second;
  memory::desc src({s.n, s.ci, s.h, s.w}, dt::f32, tag::nhwc);
  memory::desc dst({s.n, s.co, s.h, s.w}, dt::f32, tag::nhwc);
  memory::desc user_w({s.co, s.ci, 3, 3}, dt::f32, tag::hwio);
  memory::desc any_w({s.co, s.ci, 3, 3}, dt::f32, tag::any);
  memory::desc bias({s.co}, dt::f32, tag::x);
  dnnl::primitive_attr attr, relu_attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  relu_attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::post_ops relu;
  relu.append_eltwise(dnnl::algorithm::eltwise_relu, 0.f, 0.f);
  relu_attr.set_post_ops(relu);
  const memory::dims stride{1, 1}, pad{1, 1};
  auto algo = dnnl::algorithm::convolution_direct;
  auto training = dnnl::prop_kind::forward_training;
  dnnl::convolution_forward::primitive_desc fwd_pd(cpu(), training, algo, src, any_w, bias, dst, stride, pad, pad,
                                                   attr);
  dnnl::convolution_forward::primitive_desc fwd_relu_pd(cpu(), training, algo, src, any_w, bias, dst, stride, pad,
                                                        pad, relu_attr);
  dnnl::convolution_backward_data::primitive_desc data_pd(cpu(), algo, src, any_w, dst, stride, pad, pad, fwd_pd,
                                                          attr);
  dnnl::convolution_backward_weights::primitive_desc weights_pd(cpu(), algo, src, any_w, bias, dst, stride, pad,
                                                                pad, fwd_pd, attr);
  if (fwd_relu_pd.weights_desc() != fwd_pd.weights_desc()) throw dnnl::error(dnnl_unimplemented, "weight layouts");
  Conv conv{src, dst, user_w, bias, fwd_pd, fwd_relu_pd, data_pd, weights_pd,
            dnnl::convolution_forward(fwd_pd), dnnl::convolution_forward(fwd_relu_pd),
            dnnl::convolution_backward_data(data_pd), dnnl::convolution_backward_weights(weights_pd),
            dnnl::reorder(dnnl::reorder::primitive_desc(cpu(), user_w, cpu(), fwd_pd.weights_desc())),
            dnnl::reorder(dnnl::reorder::primitive_desc(cpu(), user_w, cpu(), data_pd.weights_desc())),
            dnnl::reorder(dnnl::reorder::primitive_desc(cpu(), weights_pd.diff_weights_desc(), cpu(), user_w))};
  return cache.emplace(s, std::move(conv)).first->second;
}

// A buffer in the layout oneDNN chose for `md` (its blocked weights).
struct Staged {
  std::unique_ptr<uint8_t[]> storage;
  memory mem;
  explicit Staged(const memory::desc& md)
      : storage(new uint8_t[md.get_size()]), mem(md, cpu(), storage.get()) {}
};

// Runs `prim` with a scratchpad of its own: primitives made with a user scratchpad can run on
// several threads at once (XLA runs each device's program on its own thread).
void execute(dnnl::primitive& prim, const memory::desc& scratch_md, std::unordered_map<int, memory> args) {
  Staged scratch(scratch_md);
  args.insert({DNNL_ARG_SCRATCHPAD, scratch.mem});
  prim.execute(stream(), args);
}

bool same_images(const ffi::Span<const int64_t>& a, const ffi::Span<const int64_t>& b) {
  return a.size() == 4 && b.size() == 4 && a[0] == b[0] && a[1] == b[1] && a[2] == b[2];
}

// The convolution's shape from its image-shaped array (x or the output gradient g) and its kernel
// or other image; an empty optional where they do not fit together.
std::optional<Shape> from_kernel(ffi::Buffer<ffi::F32>& image, ffi::Buffer<ffi::F32>& w, bool image_is_x) {
  auto d = image.dimensions();
  auto k = w.dimensions();
  if (d.size() != 4 || k.size() != 4 || k[0] != 3 || k[1] != 3 || d[3] != k[image_is_x ? 2 : 3]) return {};
  return Shape{d[0], d[1], d[2], k[2], k[3]};
}

ffi::Error bad_shapes() {
  return ffi::Error::InvalidArgument("jaxdqn conv3x3: want x [N, H, W, Cin], w [3, 3, Cin, Cout], g [N, H, W, Cout]");
}

// Runs `body`, turning oneDNN's exceptions into an XLA error instead of ending the process.
template <class F>
ffi::Error guarded(F body) {
  try {
    body();
    stream().wait();
  } catch (const dnnl::error& e) {
    return ffi::Error::Internal(std::string("oneDNN: ") + e.what());
  }
  return ffi::Error::Success();
}

// y = conv(x, w) + b, then max(y, 0) where `relu`.
ffi::Error Forward(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> w, ffi::Buffer<ffi::F32> b,
                   ffi::ResultBuffer<ffi::F32> y, bool relu) {
  auto s = from_kernel(x, w, true);
  if (!s || b.element_count() != s->co) return bad_shapes();
  return guarded([&] {
    Conv& c = conv_for(*s);
    auto& pd = relu ? c.fwd_relu_pd : c.fwd_pd;
    memory user_w(c.user_weights, cpu(), w.typed_data());
    Staged weights(pd.weights_desc());
    c.to_fwd_weights.execute(stream(), user_w, weights.mem);
    execute(relu ? c.fwd_relu : c.fwd, pd.scratchpad_desc(),
            {{DNNL_ARG_SRC, memory(c.src, cpu(), x.typed_data())},
             {DNNL_ARG_WEIGHTS, weights.mem},
             {DNNL_ARG_BIAS, memory(c.bias, cpu(), b.typed_data())},
             {DNNL_ARG_DST, memory(c.dst, cpu(), y->typed_data())}});
  });
}

ffi::Error InputGrad(ffi::Buffer<ffi::F32> g, ffi::Buffer<ffi::F32> w, ffi::ResultBuffer<ffi::F32> dx) {
  auto s = from_kernel(g, w, false);
  if (!s) return bad_shapes();
  return guarded([&] {
    Conv& c = conv_for(*s);
    memory user_w(c.user_weights, cpu(), w.typed_data());
    Staged weights(c.data_pd.weights_desc());
    c.to_data_weights.execute(stream(), user_w, weights.mem);
    execute(c.data, c.data_pd.scratchpad_desc(),
            {{DNNL_ARG_DIFF_DST, memory(c.dst, cpu(), g.typed_data())},
             {DNNL_ARG_WEIGHTS, weights.mem},
             {DNNL_ARG_DIFF_SRC, memory(c.src, cpu(), dx->typed_data())}});
  });
}

// The kernel's and the bias's gradients from the input x and the output's gradient g.
ffi::Error WeightGrad(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> g, ffi::ResultBuffer<ffi::F32> dw,
                      ffi::ResultBuffer<ffi::F32> db) {
  auto xd = x.dimensions();
  auto gd = g.dimensions();
  if (!same_images(xd, gd)) return bad_shapes();
  return guarded([&] {
    Conv& c = conv_for(Shape{xd[0], xd[1], xd[2], xd[3], gd[3]});
    Staged grad(c.weights_pd.diff_weights_desc());
    execute(c.weights, c.weights_pd.scratchpad_desc(),
            {{DNNL_ARG_SRC, memory(c.src, cpu(), x.typed_data())},
             {DNNL_ARG_DIFF_DST, memory(c.dst, cpu(), g.typed_data())},
             {DNNL_ARG_DIFF_WEIGHTS, grad.mem},
             {DNNL_ARG_DIFF_BIAS, memory(c.bias, cpu(), db->typed_data())}});
    memory out(c.user_weights, cpu(), dw->typed_data());
    c.from_weights_grad.execute(stream(), grad.mem, out);
  });
}

}  // namespace

using F32 = ffi::Buffer<ffi::F32>;

XLA_FFI_DEFINE_HANDLER_SYMBOL(JaxdqnConv3x3, Forward,
                              ffi::Ffi::Bind().Arg<F32>().Arg<F32>().Arg<F32>().Ret<F32>().Attr<bool>("relu"));
XLA_FFI_DEFINE_HANDLER_SYMBOL(JaxdqnConv3x3InputGrad, InputGrad,
                              ffi::Ffi::Bind().Arg<F32>().Arg<F32>().Ret<F32>());
XLA_FFI_DEFINE_HANDLER_SYMBOL(JaxdqnConv3x3WeightGrad, WeightGrad,
                              ffi::Ffi::Bind().Arg<F32>().Arg<F32>().Ret<F32>().Ret<F32>());
