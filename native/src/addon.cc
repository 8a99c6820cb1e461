// vigil's bridge to libtorch. The surface is deliberately small: tensors in and out of typed
// arrays, one generic entry point that calls any ATen operator through the dispatcher (so
// autograd, CPU and CUDA kernels are libtorch's own), and the few things that are not operators
// (autograd, grad mode, seeding, threads, fused optimizer steps). The TypeScript side
// (src/engine/binding.ts) mirrors this file.
//
// Every entry point is guarded: a c10::Error or std::exception becomes a JavaScript Error with
// libtorch's message, never an abort.

#include <napi.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/version.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

// c10::optional became an alias of std::optional in PyTorch 2.4 (and may disappear later);
// before that it is its own class, and Tensor?[] lists hold it.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
template <class T>
using Opt = std::optional<T>;
#else
template <class T>
using Opt = c10::optional<T>;
#endif

namespace {

std::atomic<int64_t> g_live{0};

// One native tensor owned by one JavaScript handle: a plain object that wraps a Box (napi_wrap).
// `dispose` frees the tensor at once and removes the wrap, finalizer and all (napi_remove_wrap),
// so a disposed handle leaves nothing native behind. The finalizer is only the backstop for
// handles the program forgot. (Handles used to be Externals with finalizers; Node 20 runs N-API
// finalizers from a SetImmediate task, so in a loop that never yields, the finalizer records of
// disposed tensors piled up, ~1.4 KB a training step.)
struct Box {
  at::Tensor tensor;
};

// Marks handles that were disposed, so using one again says so.
const napi_type_tag kDisposedTag = {0x766967696c2d7465ULL, 0x6e736f722d646f6eULL};

void FinalizeBox(napi_env, void* data, void*) {
  g_live--;
  delete static_cast<Box*>(data);
}

Napi::Value Wrap(Napi::Env env, at::Tensor t) {
  napi_value obj;
  if (napi_create_object(env, &obj) != napi_ok) throw Napi::Error::New(env, "vigil: could not create a tensor handle");
  auto* box = new Box{std::move(t)};
  if (napi_wrap(env, obj, box, FinalizeBox, nullptr, nullptr) != napi_ok) {
    delete box;
    throw Napi::Error::New(env, "vigil: could not create a tensor handle");
  }
  g_live++;
  return Napi::Value(env, obj);
}

// The Box of a live handle, or null (not a handle, or disposed). Only handles made by Wrap reach
// here: the TypeScript side never passes other wrapped objects.
Box* BoxOf(const Napi::Value& v) {
  if (!v.IsObject()) return nullptr;
  void* data = nullptr;
  if (napi_unwrap(v.Env(), v, &data) != napi_ok) return nullptr;
  return static_cast<Box*>(data);
}

[[noreturn]] void ThrowNotATensor(const Napi::Value& v, const std::string& what) {
  bool disposed = false;
  if (v.IsObject()) napi_check_object_type_tag(v.Env(), v, &kDisposedTag, &disposed);
  if (disposed) throw Napi::Error::New(v.Env(), what + ": tensor was already disposed");
  throw Napi::TypeError::New(v.Env(), what + ": expected a tensor");
}

at::Tensor& Unwrap(const Napi::Value& v, const char* what) {
  Box* box = BoxOf(v);
  if (!box) ThrowNotATensor(v, what);
  return box->tensor;
}

#define GUARD_BEGIN try {
#define GUARD_END                                                        \
  }                                                                      \
  catch (const Napi::Error&) {                                           \
    throw;                                                               \
  }                                                                      \
  catch (const c10::Error& e) {                                          \
    throw Napi::Error::New(env, e.what_without_backtrace());            \
  }                                                                      \
  catch (const std::exception& e) {                                      \
    throw Napi::Error::New(env, e.what());                               \
  }

at::ScalarType ParseDtype(Napi::Env env, const std::string& s) {
  static const std::unordered_map<std::string, at::ScalarType> m = {
      {"float32", at::kFloat}, {"float64", at::kDouble}, {"float16", at::kHalf},
      {"bfloat16", at::kBFloat16}, {"int64", at::kLong}, {"int32", at::kInt},
      {"uint8", at::kByte}, {"int8", at::kChar}, {"bool", at::kBool}};
  auto it = m.find(s);
  if (it == m.end()) throw Napi::TypeError::New(env, "unknown dtype '" + s + "'");
  return it->second;
}

const char* DtypeName(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kByte: return "uint8";
    case at::kChar: return "int8";
    case at::kBool: return "bool";
    default: return "other";
  }
}

at::Device ParseDevice(Napi::Env env, const std::string& s) {
  try {
    return at::Device(s);
  } catch (const c10::Error&) {
    throw Napi::TypeError::New(env, "unknown device '" + s + "' (use 'cpu', 'cuda' or 'cuda:N')");
  }
}

std::vector<int64_t> IntList(const Napi::Value& v, const char* what) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected an array of integers");
  auto a = v.As<Napi::Array>();
  std::vector<int64_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    if (!e.IsNumber()) throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected an array of integers");
    double d = e.As<Napi::Number>().DoubleValue();
    if (d != static_cast<double>(static_cast<int64_t>(d))) {
      throw Napi::TypeError::New(v.Env(), std::string(what) + ": " + std::to_string(d) + " is not an integer");
    }
    out[i] = static_cast<int64_t>(d);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Generic operator calls through the c10 dispatcher.

struct ParamInfo {
  c10::TypePtr type;     // the schema's declared type (SymInt reads as int, SymInt[] as int[])
  c10::TypeKind kind;    // type->kind(), cached
  bool has_default;
  c10::IValue default_value;
};

struct OpEntry {
  c10::OperatorHandle handle;
  std::string name;
  std::vector<ParamInfo> params;
};
// Per thread: each JavaScript environment (the main thread, a worker thread) resolves its own
// operator ids, so a worker resolving ops never reallocates the table another thread reads.
thread_local std::vector<OpEntry> g_ops;

// resolveOp("aten::conv2d", "") -> id, resolved once and cached on the JavaScript side.
Napi::Value ResolveOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  std::string name = info[0].As<Napi::String>();
  std::string overload = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : std::string();
  auto h = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!h.has_value()) {
    throw Napi::Error::New(env, "this libtorch has no operator " + name + (overload.empty() ? "" : "." + overload));
  }
  OpEntry e{*h, name + (overload.empty() ? "" : "." + overload), {}};
  for (const auto& p : h->schema().arguments()) {
    ParamInfo pi{p.type(), p.type()->kind(), p.default_value().has_value(), c10::IValue()};
    if (pi.has_default) pi.default_value = *p.default_value();
    e.params.push_back(std::move(pi));
  }
  g_ops.push_back(std::move(e));
  return Napi::Number::New(env, static_cast<double>(g_ops.size() - 1));
  GUARD_END
}

// Names an argument in error messages. Built only when an error is thrown: the hot path of a
// call allocates no strings.
struct Where {
  const OpEntry* op;
  size_t index;
  std::string str() const {
    return op->name + " argument '" + op->handle.schema().arguments()[index].name() + "'";
  }
};

c10::IValue ScalarFrom(Napi::Env env, const Napi::Value& v, const Where& where) {
  if (v.IsBoolean()) return c10::IValue(c10::Scalar(v.As<Napi::Boolean>().Value()));
  if (!v.IsNumber()) throw Napi::TypeError::New(env, where.str() + ": expected a number");
  return c10::IValue(c10::Scalar(v.As<Napi::Number>().DoubleValue()));
}

at::Tensor& UnwrapAt(const Napi::Value& v, const Where& where) {
  Box* box = BoxOf(v);
  if (!box) ThrowNotATensor(v, where.str());
  return box->tensor;
}

int64_t IntFrom(Napi::Env env, const Napi::Value& v, const Where& where) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, where.str() + ": expected an integer");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int64_t>(d))) {
    throw Napi::TypeError::New(env, where.str() + ": expected an integer, got " + std::to_string(d));
  }
  return static_cast<int64_t>(d);
}

c10::IValue ToIValue(Napi::Env env, const Napi::Value& v, const c10::Type& type, c10::TypeKind kind, const Where& where) {
  using c10::TypeKind;
  switch (kind) {
    case TypeKind::OptionalType: {
      if (v.IsNull() || v.IsUndefined()) return c10::IValue();
      const auto& elem = type.castRaw<c10::OptionalType>()->getElementType();
      return ToIValue(env, v, *elem, elem->kind(), where);
    }
    case TypeKind::TensorType:
      return c10::IValue(UnwrapAt(v, where));
    case TypeKind::IntType:
    case TypeKind::SymIntType:
      if (v.IsString()) {
        // dtype and similar enum arguments travel as ints in schemas
        return c10::IValue(static_cast<int64_t>(ParseDtype(env, v.As<Napi::String>())));
      }
      if (v.IsBoolean()) return c10::IValue(static_cast<int64_t>(v.As<Napi::Boolean>().Value()));
      return c10::IValue(IntFrom(env, v, where));
    case TypeKind::ScalarTypeType:
      if (v.IsString()) return c10::IValue(static_cast<int64_t>(ParseDtype(env, v.As<Napi::String>())));
      return c10::IValue(IntFrom(env, v, where));
    case TypeKind::FloatType:
      if (!v.IsNumber()) throw Napi::TypeError::New(env, where.str() + ": expected a number");
      return c10::IValue(v.As<Napi::Number>().DoubleValue());
    case TypeKind::BoolType:
      if (!v.IsBoolean()) throw Napi::TypeError::New(env, where.str() + ": expected a boolean");
      return c10::IValue(v.As<Napi::Boolean>().Value());
    case TypeKind::NumberType:
      return ScalarFrom(env, v, where);
    case TypeKind::StringType:
      if (!v.IsString()) throw Napi::TypeError::New(env, where.str() + ": expected a string");
      return c10::IValue(v.As<Napi::String>().Utf8Value());
    case TypeKind::DeviceObjType:
      if (!v.IsString()) throw Napi::TypeError::New(env, where.str() + ": expected a device string");
      return c10::IValue(ParseDevice(env, v.As<Napi::String>()));
    case TypeKind::LayoutType:
    case TypeKind::MemoryFormatType:
      return c10::IValue(IntFrom(env, v, where));
    case TypeKind::ListType: {
      const auto& elem = type.castRaw<c10::ListType>()->getElementType();
      auto ek = elem->kind();
      if (ek == TypeKind::IntType || ek == TypeKind::SymIntType) {
        // int[] and SymInt[] both travel as int lists: the boxed kernels of PyTorch 2.x turn an
        // int list into SymInts themselves.
        c10::List<int64_t> out;
        if (v.IsNumber()) {  // int[2] stride=1 style: one number stands for every entry
          out.push_back(IntFrom(env, v, where));
          return c10::IValue(std::move(out));
        }
        if (!v.IsArray()) throw Napi::TypeError::New(env, where.str() + ": expected an array of integers");
        auto a = v.As<Napi::Array>();
        uint32_t n = a.Length();
        out.reserve(n);
        for (uint32_t i = 0; i < n; i++) {
          Napi::Value e = a.Get(i);
          if (!e.IsNumber()) throw Napi::TypeError::New(env, where.str() + ": expected an array of integers");
          double d = e.As<Napi::Number>().DoubleValue();
          if (d != static_cast<double>(static_cast<int64_t>(d))) {
            throw Napi::TypeError::New(env, where.str() + ": " + std::to_string(d) + " is not an integer");
          }
          out.push_back(static_cast<int64_t>(d));
        }
        return c10::IValue(std::move(out));
      }
      if (!v.IsArray()) throw Napi::TypeError::New(env, where.str() + ": expected an array");
      auto a = v.As<Napi::Array>();
      uint32_t n = a.Length();
      if (ek == TypeKind::TensorType) {
        c10::List<at::Tensor> out;
        out.reserve(n);
        for (uint32_t i = 0; i < n; i++) out.push_back(UnwrapAt(a.Get(i), where));
        return c10::IValue(std::move(out));
      }
      if (ek == TypeKind::OptionalType) {
        c10::List<Opt<at::Tensor>> out;
        out.reserve(n);
        for (uint32_t i = 0; i < n; i++) {
          Napi::Value e = a.Get(i);
          if (e.IsNull() || e.IsUndefined()) out.push_back(Opt<at::Tensor>());
          else out.push_back(Opt<at::Tensor>(UnwrapAt(e, where)));
        }
        return c10::IValue(std::move(out));
      }
      if (ek == TypeKind::FloatType) {
        c10::List<double> out;
        out.reserve(n);
        for (uint32_t i = 0; i < n; i++) out.push_back(a.Get(i).As<Napi::Number>().DoubleValue());
        return c10::IValue(std::move(out));
      }
      if (ek == TypeKind::BoolType) {
        c10::List<bool> out;
        out.reserve(n);
        for (uint32_t i = 0; i < n; i++) out.push_back(a.Get(i).As<Napi::Boolean>().Value());
        return c10::IValue(std::move(out));
      }
      throw Napi::TypeError::New(env, where.str() + ": unsupported list argument type " + type.str());
    }
    default:
      throw Napi::TypeError::New(env, where.str() + ": unsupported argument type " + type.str());
  }
}

Napi::Value FromIValue(Napi::Env env, c10::IValue&& v) {
  if (v.isTensor()) {
    at::Tensor t = std::move(v).toTensor();
    if (!t.defined()) return env.Null();
    return Wrap(env, std::move(t));
  }
  if (v.isNone()) return env.Null();
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isScalar()) {
    auto s = v.toScalar();
    if (s.isBoolean()) return Napi::Boolean::New(env, s.toBool());
    return Napi::Number::New(env, s.toDouble());
  }
  if (v.isTensorList()) {
    auto list = v.toTensorList();
    auto out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) out.Set(static_cast<uint32_t>(i), Wrap(env, list.get(i)));
    return out;
  }
  if (v.isTuple()) {
    auto elems = v.toTupleRef().elements();
    auto out = Napi::Array::New(env, elems.size());
    for (size_t i = 0; i < elems.size(); i++) {
      c10::IValue e = elems[i];
      out.Set(static_cast<uint32_t>(i), FromIValue(env, std::move(e)));
    }
    return out;
  }
  if (v.isIntList()) {
    auto list = v.toIntVector();
    auto out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(list[i])));
    return out;
  }
  throw Napi::Error::New(env, "unsupported return type " + v.tagKind());
}

// The argument stack of the generic call, reused from call to call (JavaScript runs one call at
// a time on this thread, and a call never re-enters another).
std::vector<c10::IValue>& CallStack() {
  static thread_local std::vector<c10::IValue> stack;
  return stack;
}

// call(opId, args[]): missing trailing arguments take the schema's defaults; `undefined` in the
// middle also means "default".
struct ClearOnExit {
  std::vector<c10::IValue>& stack;
  ~ClearOnExit() { stack.clear(); }  // also drops the tensors of a call that threw
};

Napi::Value CallOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& stack = CallStack();
  stack.clear();
  ClearOnExit clear{stack};
  GUARD_BEGIN
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  if (id >= g_ops.size()) throw Napi::Error::New(env, "bad operator id");
  const OpEntry& op = g_ops[id];
  const size_t np = op.params.size();
  auto args = info[1].As<Napi::Array>();
  uint32_t n = args.Length();
  if (n > np) {
    throw Napi::TypeError::New(env, op.name + ": takes at most " + std::to_string(np) + " arguments, got " + std::to_string(n));
  }
  for (size_t i = 0; i < np; i++) {
    const ParamInfo& p = op.params[i];
    if (i >= n) {
      if (p.has_default) { stack.push_back(p.default_value); continue; }
      if (p.kind == c10::TypeKind::OptionalType) { stack.emplace_back(); continue; }
      throw Napi::TypeError::New(env, op.name + ": missing argument '" + op.handle.schema().arguments()[i].name() + "'");
    }
    Napi::Value v = args.Get(static_cast<uint32_t>(i));
    if (v.IsUndefined()) {
      if (p.has_default) { stack.push_back(p.default_value); continue; }
      if (p.kind != c10::TypeKind::OptionalType) {
        throw Napi::TypeError::New(env, op.name + ": missing argument '" + op.handle.schema().arguments()[i].name() + "'");
      }
    }
    stack.push_back(ToIValue(env, v, *p.type, p.kind, Where{&op, i}));
  }
  op.handle.callBoxed(&stack);
  Napi::Value result;
  if (stack.empty()) {
    result = env.Undefined();
  } else if (stack.size() == 1) {
    result = FromIValue(env, std::move(stack[0]));
  } else {
    auto out = Napi::Array::New(env, stack.size());
    for (size_t i = 0; i < stack.size(); i++) out.Set(static_cast<uint32_t>(i), FromIValue(env, std::move(stack[i])));
    result = out;
  }
  return result;
  GUARD_END
}

// ---------------------------------------------------------------------------------------------
// Tensors to and from typed arrays.

// fromArray(typedArray, shape, dtype?, device?): copies. uint8 data can be converted to float32
// scaled to [0,1] on the way in (images), by passing dtype 'float32' with a Uint8Array.
Napi::Value FromArray(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  if (!info[0].IsTypedArray()) throw Napi::TypeError::New(env, "fromArray: expected a typed array");
  auto ta = info[0].As<Napi::TypedArray>();
  auto shape = IntList(info[1], "fromArray shape");
  int64_t numel = 1;
  for (auto d : shape) {
    if (d < 0) throw Napi::RangeError::New(env, "fromArray: negative dimension in shape");
    numel *= d;
  }
  if (static_cast<size_t>(numel) != ta.ElementLength()) {
    throw Napi::RangeError::New(env, "fromArray: shape holds " + std::to_string(numel) + " elements but the array has " +
                                         std::to_string(ta.ElementLength()));
  }
  at::ScalarType src;
  switch (ta.TypedArrayType()) {
    case napi_float32_array: src = at::kFloat; break;
    case napi_float64_array: src = at::kDouble; break;
    case napi_int32_array: src = at::kInt; break;
    case napi_uint8_array: src = at::kByte; break;
    case napi_int8_array: src = at::kChar; break;
    case napi_bigint64_array: src = at::kLong; break;
    default: throw Napi::TypeError::New(env, "fromArray: unsupported typed array type");
  }
  uint8_t* data = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(src));
  if (numel > 0) std::memcpy(t.data_ptr(), data, ta.ByteLength());
  if (info.Length() > 2 && info[2].IsString()) {
    at::ScalarType dst = ParseDtype(env, info[2].As<Napi::String>());
    if (dst != src) {
      t = t.to(dst);
      if (src == at::kByte && at::isFloatingType(dst)) t.div_(255.0);
    }
  }
  if (info.Length() > 3 && info[3].IsString()) {
    at::Device dev = ParseDevice(env, info[3].As<Napi::String>());
    if (dev != t.device()) t = t.to(dev);
  }
  return Wrap(env, std::move(t));
  GUARD_END
}

// toArray(t): a copy on the CPU as the matching typed array (int64 and bool come back as
// Float64Array / Uint8Array).
Napi::Value ToArray(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  at::Tensor t = Unwrap(info[0], "toArray").detach();
  if (!t.device().is_cpu()) t = t.to(at::kCPU);
  switch (t.scalar_type()) {
    case at::kFloat: case at::kDouble: case at::kInt: case at::kByte: case at::kChar: break;
    case at::kLong: t = t.to(at::kDouble); break;
    case at::kBool: t = t.to(at::kByte); break;
    default: t = t.to(at::kFloat); break;
  }
  t = t.contiguous();
  size_t n = static_cast<size_t>(t.numel());
  size_t bytes = n * t.element_size();
  auto buf = Napi::ArrayBuffer::New(env, bytes);
  if (bytes) std::memcpy(buf.Data(), t.data_ptr(), bytes);
  switch (t.scalar_type()) {
    case at::kFloat: return Napi::Float32Array::New(env, n, buf, 0);
    case at::kDouble: return Napi::Float64Array::New(env, n, buf, 0);
    case at::kInt: return Napi::Int32Array::New(env, n, buf, 0);
    case at::kByte: return Napi::Uint8Array::New(env, n, buf, 0);
    default: return Napi::Int8Array::New(env, n, buf, 0);
  }
  GUARD_END
}

Napi::Value Shape(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const at::Tensor& t = Unwrap(info[0], "shape");
  auto sizes = t.sizes();
  auto out = Napi::Array::New(env, sizes.size());
  for (size_t i = 0; i < sizes.size(); i++) out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(sizes[i])));
  return out;
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  const at::Tensor& t = Unwrap(info[0], "info");
  auto o = Napi::Object::New(env);
  o.Set("dtype", DtypeName(t.scalar_type()));
  o.Set("device", t.device().str());
  o.Set("requiresGrad", t.requires_grad());
  return o;
  GUARD_END
}

Napi::Value Dispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value v = info[0];
  void* data = nullptr;
  if (v.IsObject() && napi_remove_wrap(env, v, &data) == napi_ok && data) {
    delete static_cast<Box*>(data);  // frees the tensor now; the finalizer went with the wrap
    g_live--;
    napi_type_tag_object(env, v, &kDisposedTag);
  }
  return env.Undefined();
}

Napi::Value LiveCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(g_live.load()));
}

// ---------------------------------------------------------------------------------------------
// Autograd.

Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  Unwrap(info[0], "requiresGrad").set_requires_grad(info[1].As<Napi::Boolean>().Value());
  return env.Undefined();
  GUARD_END
}

Napi::Value Grad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  const at::Tensor& g = Unwrap(info[0], "grad").grad();
  if (!g.defined()) return env.Null();
  return Wrap(env, g);
  GUARD_END
}

// zeroGrad(params[]): drops the gradients (set to none, as PyTorch does by default).
Napi::Value ZeroGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  auto a = info[0].As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) Unwrap(a.Get(i), "zeroGrad").mutable_grad() = at::Tensor();
  return env.Undefined();
  GUARD_END
}

Napi::Value Backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  at::Tensor& t = Unwrap(info[0], "backward");
  if (!t.requires_grad()) {
    throw Napi::Error::New(env, "backward: the tensor does not require grad (was it computed inside noGrad, or from no parameters?)");
  }
  if (info.Length() > 1 && info[1].IsObject()) {
    t.backward(Unwrap(info[1], "backward gradient"));
  } else {
    if (t.numel() != 1) throw Napi::Error::New(env, "backward: a gradient is needed for a non-scalar tensor");
    t.backward();
  }
  return env.Undefined();
  GUARD_END
}

Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  bool prev = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(info[0].As<Napi::Boolean>().Value());
  return Napi::Boolean::New(info.Env(), prev);
}

Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), c10::GradMode::is_enabled());
}

// ---------------------------------------------------------------------------------------------
// Optimizer steps over whole parameter lists with libtorch's multi-tensor (_foreach) kernels,
// the same kernels PyTorch's default optimizers use, so a step is a handful of kernel launches
// rather than several per parameter.

std::vector<at::Tensor> TensorVec(const Napi::Value& v, const char* what) {
  auto a = v.As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(Unwrap(a.Get(i), what));
  return out;
}

#if TORCH_VERSION_MAJOR >= 2
// The fused kernel takes CUDA tensors of one floating dtype, all on one device, dense and
// contiguous. VIGIL_FUSED_ADAM=0 turns it off (then every device uses the _foreach path).
bool UseFusedAdam(const std::vector<at::Tensor>& p, const std::vector<at::Tensor>& g,
                  const std::vector<at::Tensor>& m, const std::vector<at::Tensor>& v) {
  static const bool enabled = [] {
    const char* e = std::getenv("VIGIL_FUSED_ADAM");
    return !(e && std::string(e) == "0");
  }();
  if (!enabled || p.empty() || !p[0].is_cuda()) return false;
  const auto dev = p[0].device();
  const auto dt = p[0].scalar_type();
  if (dt != at::kFloat && dt != at::kHalf && dt != at::kBFloat16) return false;
  auto ok = [&](const at::Tensor& t, const at::Tensor& like) {
    return t.device() == dev && t.scalar_type() == dt && t.layout() == at::kStrided && t.is_contiguous() && t.sizes() == like.sizes();
  };
  for (size_t i = 0; i < p.size(); i++) {
    if (!ok(p[i], p[i]) || !ok(g[i], p[i]) || !ok(m[i], p[i]) || !ok(v[i], p[i])) return false;
  }
  return true;
}
#endif

// adamStep(params, expAvg, expAvgSq, {lr, beta1, beta2, eps, weightDecay, decoupled, step})
// Parameters without a gradient are skipped, as in PyTorch.
Napi::Value AdamStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  auto params = TensorVec(info[0], "adamStep params");
  auto m = TensorVec(info[1], "adamStep expAvg");
  auto v = TensorVec(info[2], "adamStep expAvgSq");
  if (m.size() != params.size() || v.size() != params.size()) {
    throw Napi::Error::New(env, "adamStep: " + std::to_string(params.size()) + " parameters but " + std::to_string(m.size()) + "/" +
                                    std::to_string(v.size()) + " moment tensors (was a parameter added after the optimizer was made?)");
  }
  auto o = info[3].As<Napi::Object>();
  double lr = o.Get("lr").As<Napi::Number>().DoubleValue();
  double b1 = o.Get("beta1").As<Napi::Number>().DoubleValue();
  double b2 = o.Get("beta2").As<Napi::Number>().DoubleValue();
  double eps = o.Get("eps").As<Napi::Number>().DoubleValue();
  double wd = o.Get("weightDecay").As<Napi::Number>().DoubleValue();
  bool decoupled = o.Get("decoupled").As<Napi::Boolean>().Value();
  double step = o.Get("step").As<Napi::Number>().DoubleValue();
  std::vector<at::Tensor> p, g, mm, vv;
  for (size_t i = 0; i < params.size(); i++) {
    const at::Tensor& grad = params[i].grad();
    if (!grad.defined()) continue;
    p.push_back(params[i]);
    g.push_back(grad);
    mm.push_back(m[i]);
    vv.push_back(v[i]);
  }
  if (p.empty()) return env.Undefined();
  c10::AutoGradMode no_grad(false);
  if (wd != 0 && decoupled) at::_foreach_mul_(p, 1 - lr * wd);
#if TORCH_VERSION_MAJOR >= 2
  if (UseFusedAdam(p, g, mm, vv)) {
    // libtorch's fused CUDA kernel (what torch.optim.Adam(fused=True) runs): one pass over every
    // parameter instead of eight _foreach passes. It reads the step count from a tensor; one
    // shared scalar serves every parameter.
    at::Tensor steps = at::scalar_tensor(step, at::TensorOptions().dtype(at::kFloat).device(p[0].device()));
    std::vector<at::Tensor> step_list(p.size(), steps);
    at::_fused_adam_(p, g, mm, vv, {}, step_list, lr, b1, b2, decoupled ? 0.0 : wd, eps, /*amsgrad=*/false, /*maximize=*/false);
    return env.Undefined();
  }
#endif
  if (wd != 0 && !decoupled) g = at::_foreach_add(g, p, wd);
  double bc1 = 1 - std::pow(b1, step);
  double bc2 = 1 - std::pow(b2, step);
  at::_foreach_mul_(mm, b1);
  at::_foreach_add_(mm, g, 1 - b1);
  at::_foreach_mul_(vv, b2);
  at::_foreach_addcmul_(vv, g, g, 1 - b2);
  auto denom = at::_foreach_sqrt(vv);
  at::_foreach_div_(denom, std::sqrt(bc2));
  at::_foreach_add_(denom, eps);
  at::_foreach_addcdiv_(p, mm, denom, -lr / bc1);
  return env.Undefined();
  GUARD_END
}

// sgdStep(params, momentumBuffers, {lr, momentum, weightDecay, nesterov, dampening})
Napi::Value SgdStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  auto params = TensorVec(info[0], "sgdStep params");
  auto bufs = TensorVec(info[1], "sgdStep momentum");
  auto o = info[2].As<Napi::Object>();
  double lr = o.Get("lr").As<Napi::Number>().DoubleValue();
  double mom = o.Get("momentum").As<Napi::Number>().DoubleValue();
  if (mom != 0 && bufs.size() != params.size()) {
    throw Napi::Error::New(env, "sgdStep: " + std::to_string(params.size()) + " parameters but " + std::to_string(bufs.size()) +
                                    " momentum buffers (was a parameter added after the optimizer was made?)");
  }
  double wd = o.Get("weightDecay").As<Napi::Number>().DoubleValue();
  bool nesterov = o.Get("nesterov").As<Napi::Boolean>().Value();
  double damp = o.Get("dampening").As<Napi::Number>().DoubleValue();
  bool first = o.Get("first").As<Napi::Boolean>().Value();
  std::vector<at::Tensor> p, g, b;
  for (size_t i = 0; i < params.size(); i++) {
    const at::Tensor& grad = params[i].grad();
    if (!grad.defined()) continue;
    p.push_back(params[i]);
    g.push_back(grad);
    if (mom != 0) b.push_back(bufs[i]);
  }
  if (p.empty()) return env.Undefined();
  c10::AutoGradMode no_grad(false);
  if (wd != 0) g = at::_foreach_add(g, p, wd);
  if (mom != 0) {
    if (first) {
      for (size_t i = 0; i < b.size(); i++) b[i].copy_(g[i]);
    } else {
      at::_foreach_mul_(b, mom);
      at::_foreach_add_(b, g, 1 - damp);
    }
    if (nesterov) g = at::_foreach_add(g, b, mom);
    else g = b;
  }
  at::_foreach_add_(p, g, -lr);
  return env.Undefined();
  GUARD_END
}

// ---------------------------------------------------------------------------------------------
// Runtime: seeding, threads, CUDA.

Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  at::manual_seed(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()));
  return env.Undefined();
  GUARD_END
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  int n = info[0].As<Napi::Number>().Int32Value();
  if (n < 1) throw Napi::RangeError::New(env, "setNumThreads: need at least 1 thread");
  at::set_num_threads(n);
  return env.Undefined();
  GUARD_END
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

// The CUDA hooks count devices with getNumGPUs() in libtorch 1.x and early 2.x and with
// deviceCount() (from AcceleratorHooksInterface) later; use whichever this libtorch has.
template <class Hooks>
auto GpuCount(const Hooks& h, int) -> decltype(static_cast<int64_t>(h.getNumGPUs())) {
  return static_cast<int64_t>(h.getNumGPUs());
}
template <class Hooks>
int64_t GpuCount(const Hooks& h, long) {
  return static_cast<int64_t>(h.deviceCount());
}

Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  if (!at::hasCUDA()) return Napi::Number::New(env, 0);
  return Napi::Number::New(env, static_cast<double>(GpuCount(at::detail::getCUDAHooks(), 0)));
  GUARD_END
}

Napi::Value CudaSynchronize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD_BEGIN
  if (at::hasCUDA()) {
    // a tiny device->host copy waits for all queued work on the current stream
    at::zeros({1}, at::TensorOptions().device(at::kCUDA)).item<float>();
  }
  return env.Undefined();
  GUARD_END
}

Napi::Value Version(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = Napi::Object::New(env);
  o.Set("torch", TORCH_VERSION);
  o.Set("cuda", at::hasCUDA());
  o.Set("parallel", at::get_parallel_info());
  return o;
}

// glibc hands every allocation over 32 MiB (and, by its sliding threshold, many smaller ones) to
// mmap and gives it back to the kernel on free, so a training step's activations (a batch of 16 at
// 150 px with 32 channels is 46 MB) are page-faulted in and zeroed afresh at every step: on 2 CPU
// cores that was half of a default step (1.2 s against 0.6 s, bench/allocator). Serving every
// allocation from the heap and never trimming it lets the next step reuse the same pages, as
// PyTorch's users get from jemalloc or tcmalloc. The price is memory: the process keeps its peak,
// and the heap fragments (10% more at the peak of a training step; 4x for a loop of two 64 MB
// blocks, docs/ENGINE.md). So it is a switch that training turns on (src/detector/fit.ts) rather
// than a setting at load that a scoring server would pay for too; once on it stays on. Returns
// whether the policy is on: VIGIL_MALLOC=system keeps glibc's own, and so does another C library.
Napi::Value RetainFreedMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
#if defined(__GLIBC__)
  const char* choice = std::getenv("VIGIL_MALLOC");
  if (choice && std::strcmp(choice, "system") == 0) return Napi::Boolean::New(env, false);
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, INT32_MAX);
  return Napi::Boolean::New(env, true);
#else
  return Napi::Boolean::New(env, false);
#endif
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("resolveOp", Napi::Function::New(env, ResolveOp));
  exports.Set("call", Napi::Function::New(env, CallOp));
  exports.Set("fromArray", Napi::Function::New(env, FromArray));
  exports.Set("toArray", Napi::Function::New(env, ToArray));
  exports.Set("shape", Napi::Function::New(env, Shape));
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("dispose", Napi::Function::New(env, Dispose));
  exports.Set("liveCount", Napi::Function::New(env, LiveCount));
  exports.Set("setRequiresGrad", Napi::Function::New(env, SetRequiresGrad));
  exports.Set("grad", Napi::Function::New(env, Grad));
  exports.Set("zeroGrad", Napi::Function::New(env, ZeroGrad));
  exports.Set("backward", Napi::Function::New(env, Backward));
  exports.Set("setGradEnabled", Napi::Function::New(env, SetGradEnabled));
  exports.Set("isGradEnabled", Napi::Function::New(env, IsGradEnabled));
  exports.Set("adamStep", Napi::Function::New(env, AdamStep));
  exports.Set("sgdStep", Napi::Function::New(env, SgdStep));
  exports.Set("manualSeed", Napi::Function::New(env, ManualSeed));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads));
  exports.Set("retainFreedMemory", Napi::Function::New(env, RetainFreedMemory));
  exports.Set("cudaDeviceCount", Napi::Function::New(env, CudaDeviceCount));
  exports.Set("cudaSynchronize", Napi::Function::New(env, CudaSynchronize));
  exports.Set("version", Napi::Function::New(env, Version));
  return exports;
}

}  // namespace

NODE_API_MODULE(vigil_native, Init)
