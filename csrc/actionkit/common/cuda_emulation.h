// Host emulation of the part of CUDA the kernels use, so a .cu file's own
// source (indexing, bounds checks, grid-stride loops, atomics, and for block-
// cooperative kernels barriers, shared memory and warp intrinsics) compiles
// with the host compiler and runs on the CPU in tests.
//
// AK_LAUNCH runs blocks and threads one after another: the fast path, for
// kernels whose threads do not cooperate. AK_LAUNCH_BLOCKS runs each block's
// threads as fibers (a small stack each, switched with ucontext on one host
// thread): __syncthreads() switches fibers until every thread of the block has
// reached it; AK_SHARED arrays exist once per block; __syncwarp, __shfl*_sync,
// __ballot_sync, __any_sync and __all_sync exchange values between the lanes
// of a 32-thread warp as CUDA does, masks included. Between two barriers the
// fibers run in an order drawn from a seed (set_schedule_seed), so tests can
// try several. AK_SHARED arrays check every access like a race checker:
// two threads touching one element between the same two barriers (or warp
// syncs, within a warp), at least one writing, is an error naming both threads
// and the element, as is reading an element no thread of the block wrote, or
// an index out of bounds. A thread that exits while others wait for it at a
// barrier or a warp collective is the deadlock it would be on a GPU: an error.
// Errors are EmulationError exceptions out of the launch.
#pragma once

#include <ucontext.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline

namespace actionkit::emu {

struct dim3 {
  unsigned int x = 1, y = 1, z = 1;
  dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1) : x(x_), y(y_), z(z_) {}
};

inline thread_local dim3 threadIdx_, blockIdx_, blockDim_, gridDim_;

constexpr int kWarpSize = 32;

class EmulationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <typename Kernel, typename... Args>
void launch(Kernel kernel, dim3 grid, dim3 block, Args... args) {
  gridDim_ = grid;
  blockDim_ = block;
  for (unsigned int bz = 0; bz < grid.z; ++bz)
    for (unsigned int by = 0; by < grid.y; ++by)
      for (unsigned int bx = 0; bx < grid.x; ++bx)
        for (unsigned int tz = 0; tz < block.z; ++tz)
          for (unsigned int ty = 0; ty < block.y; ++ty)
            for (unsigned int tx = 0; tx < block.x; ++tx) {
              blockIdx_ = dim3(bx, by, bz);
              threadIdx_ = dim3(tx, ty, tz);
              kernel(args...);
            }
}

// ------------------------------------------------------------ cooperative blocks

// The seed of the order fibers run in between two synchronisations (each
// block's draws start from it and the block's index).
inline uint64_t& schedule_seed() {
  static uint64_t seed = 0;
  return seed;
}
inline void set_schedule_seed(uint64_t seed) { schedule_seed() = seed; }

inline std::string coords(dim3 d) {
  return "(" + std::to_string(d.x) + ", " + std::to_string(d.y) + ", " + std::to_string(d.z) + ")";
}

// One collective of a warp in flight: the lanes' inputs, then their results.
struct WarpOp {
  unsigned mask = 0, arrived = 0;
  const char* name = nullptr;
  uint64_t values[kWarpSize] = {};
  int args[kWarpSize] = {};
  uint64_t results[kWarpSize] = {};
};

struct Fiber {
  enum State { Ready, AtBarrier, AtWarp, Done };
  ucontext_t context;
  std::unique_ptr<char[]> stack;
  State state = Ready;
};

struct Block {
  static constexpr size_t kStackBytes = 256 * 1024;
  std::vector<Fiber> fibers;
  ucontext_t scheduler;
  std::function<void()> body;
  unsigned current = 0;
  uint64_t serial = 0;               // this block run's number (shared arrays reset on a new one)
  uint64_t epoch = 0;                // barriers released so far
  std::vector<uint64_t> warp_epoch;  // collectives completed, per warp
  std::vector<WarpOp> warps;
  std::exception_ptr error;

  dim3 thread(unsigned linear) const {
    const unsigned x = blockDim_.x, y = blockDim_.y;
    return dim3(linear % x, (linear / x) % y, linear / (x * y));
  }
  std::string name(unsigned linear) const { return "thread " + coords(thread(linear)); }
  unsigned lanes_in(unsigned warp) const {  // the warp's lanes that exist
    const unsigned left = static_cast<unsigned>(fibers.size()) - warp * kWarpSize;
    return left >= kWarpSize ? 0xffffffffu : (1u << left) - 1;
  }
};

inline thread_local Block* current_block = nullptr;
inline uint64_t next_block_serial() {
  static uint64_t serial = 0;
  return ++serial;
}

inline Block& cooperative(const char* what) {
  Block* b = current_block;
  if (b == nullptr) {
    throw EmulationError(std::string(what) +
                         " in a kernel launched with AK_LAUNCH: launch block-cooperative "
                         "kernels with AK_LAUNCH_BLOCKS");
  }
  return *b;
}

inline void yield(Fiber::State state) {
  Block& b = *current_block;
  b.fibers[b.current].state = state;
  swapcontext(&b.fibers[b.current].context, &b.scheduler);
}

inline void fiber_main() {
  Block& b = *current_block;
  const unsigned me = b.current;
  try {
    b.body();
  } catch (...) {
    if (!b.error) b.error = std::current_exception();
  }
  b.fibers[me].state = Fiber::Done;  // uc_link returns to the scheduler
}

// Lists the threads in `state` (at most 4 named).
inline std::string who(const Block& b, Fiber::State state) {
  std::string out;
  int count = 0;
  for (unsigned i = 0; i < b.fibers.size(); ++i) {
    if (b.fibers[i].state != state) continue;
    if (count < 4) out += (count ? ", " : "") + coords(b.thread(i));
    ++count;
  }
  if (count > 4) out += " and " + std::to_string(count - 4) + " more";
  return out;
}

inline void run_block(Block& b, unsigned threads, std::mt19937_64& rng) {
  b.fibers.clear();
  b.fibers.resize(threads);
  b.warps.assign((threads + kWarpSize - 1) / kWarpSize, WarpOp{});
  b.warp_epoch.assign(b.warps.size(), 0);
  b.epoch = 0;
  b.error = nullptr;
  b.serial = next_block_serial();
  for (Fiber& f : b.fibers) {
    f.stack.reset(new char[Block::kStackBytes]);
    getcontext(&f.context);
    f.context.uc_stack.ss_sp = f.stack.get();
    f.context.uc_stack.ss_size = Block::kStackBytes;
    f.context.uc_link = &b.scheduler;
    makecontext(&f.context, fiber_main, 0);
  }
  std::vector<unsigned> ready;
  while (true) {
    ready.clear();
    for (unsigned i = 0; i < threads; ++i)
      if (b.fibers[i].state == Fiber::Ready) ready.push_back(i);
    if (ready.empty()) {
      bool barrier = false, warp = false, done = false;
      for (const Fiber& f : b.fibers) {
        barrier |= f.state == Fiber::AtBarrier;
        warp |= f.state == Fiber::AtWarp;
        done |= f.state == Fiber::Done;
      }
      if (!barrier && !warp) return;  // every thread finished
      const std::string block = " of block " + coords(blockIdx_);
      if (barrier && done) {
        throw EmulationError("deadlock" + block + ": threads " + who(b, Fiber::AtBarrier) +
                             " wait at __syncthreads() for threads " + who(b, Fiber::Done) +
                             ", which exited");
      }
      if (barrier && warp) {
        throw EmulationError("deadlock" + block + ": threads " + who(b, Fiber::AtBarrier) +
                             " wait at __syncthreads() while threads " + who(b, Fiber::AtWarp) +
                             " wait at a warp collective");
      }
      if (warp) {
        throw EmulationError("deadlock" + block + ": threads " + who(b, Fiber::AtWarp) +
                             " wait at a warp collective for lanes of its mask that exited");
      }
      ++b.epoch;  // every thread that has not exited is at the barrier: release them
      for (Fiber& f : b.fibers) f.state = Fiber::Ready;
      continue;
    }
    std::shuffle(ready.begin(), ready.end(), rng);
    for (unsigned i : ready) {
      if (b.fibers[i].state != Fiber::Ready) continue;
      b.current = i;
      threadIdx_ = b.thread(i);
      swapcontext(&b.scheduler, &b.fibers[i].context);
      if (b.error) std::rethrow_exception(b.error);
    }
  }
}

template <typename Kernel, typename... Args>
void launch_blocks(Kernel kernel, dim3 grid, dim3 block, Args... args) {
  gridDim_ = grid;
  blockDim_ = block;
  const unsigned threads = block.x * block.y * block.z;
  if (threads == 0 || threads > 1024) {
    throw EmulationError("AK_LAUNCH_BLOCKS: " + std::to_string(threads) +
                         " threads per block (CUDA allows 1 to 1024)");
  }
  Block b;
  b.body = [&] { kernel(args...); };
  struct Reset {
    ~Reset() { current_block = nullptr; }
  } reset;
  current_block = &b;
  for (unsigned int bz = 0; bz < grid.z; ++bz)
    for (unsigned int by = 0; by < grid.y; ++by)
      for (unsigned int bx = 0; bx < grid.x; ++bx) {
        blockIdx_ = dim3(bx, by, bz);
        const uint64_t index = (uint64_t(bz) * grid.y + by) * grid.x + bx;
        std::mt19937_64 rng(schedule_seed() * 0x9E3779B97F4A7C15ull + index);
        run_block(b, threads, rng);
      }
}

inline unsigned linear_thread() {
  return threadIdx_.x + blockDim_.x * (threadIdx_.y + blockDim_.y * threadIdx_.z);
}

// A warp collective: every lane of `mask` calls it (the same one); the last to
// arrive computes each lane's result with combine(op, lane) and wakes the others.
template <typename Combine>
uint64_t warp_collective(const char* name, unsigned mask, uint64_t value, int arg,
                         Combine combine) {
  Block& b = cooperative(name);
  const unsigned me = b.current, warp = me / kWarpSize, lane = me % kWarpSize;
  const std::string where = std::string(name) + " in " + b.name(me) + " (lane " +
                            std::to_string(lane) + " of warp " + std::to_string(warp) + ")";
  if (!(mask >> lane & 1u)) throw EmulationError(where + ": the mask lacks the lane's own bit");
  if (mask & ~b.lanes_in(warp)) {
    throw EmulationError(where + ": the mask names lanes the block does not have");
  }
  WarpOp& op = b.warps[warp];
  if (op.arrived == 0) {
    op.mask = mask;
    op.name = name;
  } else if (op.mask != mask || std::strcmp(op.name, name) != 0) {
    throw EmulationError(where + " with mask " + std::to_string(mask) +
                         " while other lanes wait at " + op.name + " with mask " +
                         std::to_string(op.mask) +
                         " (the emulation runs one collective per warp at a time)");
  }
  op.values[lane] = value;
  op.args[lane] = arg;
  op.arrived |= 1u << lane;
  if (op.arrived == op.mask) {
    for (unsigned l = 0; l < static_cast<unsigned>(kWarpSize); ++l)
      if (op.mask >> l & 1u) op.results[l] = combine(op, l);
    op.arrived = 0;
    ++b.warp_epoch[warp];
    for (unsigned l = 0; l < static_cast<unsigned>(kWarpSize); ++l) {
      const unsigned t = warp * kWarpSize + l;
      if (op.mask >> l & 1u && t != me) b.fibers[t].state = Fiber::Ready;
    }
    return op.results[lane];
  }
  yield(Fiber::AtWarp);
  return op.results[lane];
}

template <typename T>
uint64_t to_bits(T value) {
  static_assert(sizeof(T) <= sizeof(uint64_t) && std::is_trivially_copyable_v<T>,
                "warp shuffles move values of up to 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  return bits;
}
template <typename T>
T from_bits(uint64_t bits) {
  T value;
  std::memcpy(&value, &bits, sizeof(T));
  return value;
}

// The lane a shuffle reads, or -1 for the lane's own value (outside its segment).
inline uint64_t shuffled(const WarpOp& op, unsigned lane, int source, const char* name) {
  if (source < 0) return op.values[lane];
  if (!(op.mask >> source & 1u)) {
    throw EmulationError(std::string(name) + ": lane " + std::to_string(lane) + " reads lane " +
                         std::to_string(source) + ", which is not in the mask");
  }
  return op.values[source];
}

inline void check_width(int width, const char* name) {
  if (width < 1 || width > kWarpSize || (width & (width - 1))) {
    throw EmulationError(std::string(name) + ": width " + std::to_string(width) +
                         " is not a power of two up to 32");
  }
}

// ------------------------------------------------------------ shared memory

// An AK_SHARED array: once per block; every access checked (see the top).
template <typename T, int64_t N>
class Shared {
  struct Track {
    int32_t writer = -1, reader = -1;
    bool many_readers = false;
    uint64_t write_epoch = 0, write_warp_epoch = 0, read_epoch = 0, read_warp_epoch = 0;
  };

 public:
  explicit Shared(const char* name) : name_(name), track_(N) {}

  class Ref {
   public:
    Ref(Shared* s, int64_t i) : s_(s), i_(i) {}
    operator T() const {
      s_->access(i_, false);
      return s_->data_[i_];
    }
    Ref& operator=(T value) {
      s_->access(i_, true);
      s_->data_[i_] = value;
      return *this;
    }
    Ref& operator=(const Ref& other) { return *this = static_cast<T>(other); }
    Ref& operator+=(T v) { return *this = static_cast<T>(*this) + v; }
    Ref& operator-=(T v) { return *this = static_cast<T>(*this) - v; }
    Ref& operator*=(T v) { return *this = static_cast<T>(*this) * v; }
    // atomics take the element's address: not checked (atomics do not race)
    T* operator&() const { return &s_->data_[i_]; }

   private:
    Shared* s_;
    int64_t i_;
  };

  Ref operator[](int64_t i) {
    cooperative("an AK_SHARED array");
    if (i < 0 || i >= N) {
      throw EmulationError("shared array " + std::string(name_) + ": index " + std::to_string(i) +
                           " out of [0, " + std::to_string(N) + ") in " + here());
    }
    return Ref(this, i);
  }

 private:
  std::string here() const {
    Block& b = *current_block;
    return b.name(b.current) + " of block " + coords(blockIdx_);
  }

  void access(int64_t i, bool write) {
    Block& b = cooperative("an AK_SHARED array");
    if (serial_ != b.serial) {  // a new block: its shared memory starts unwritten
      serial_ = b.serial;
      std::fill(track_.begin(), track_.end(), Track{});
    }
    const int32_t me = static_cast<int32_t>(b.current);
    Track& t = track_[i];
    auto ordered = [&](int32_t other, uint64_t epoch, uint64_t warp_epoch) {
      if (other == me || b.epoch > epoch) return true;
      const unsigned warp = static_cast<unsigned>(other) / kWarpSize;
      return warp == static_cast<unsigned>(me) / kWarpSize && b.warp_epoch[warp] > warp_epoch;
    };
    auto race = [&](int32_t other, const char* did, const char* does) {
      throw EmulationError("race on shared array " + std::string(name_) + "[" + std::to_string(i) +
                           "] in block " + coords(blockIdx_) + ": " + b.name(other) + " " + did +
                           " it and " + b.name(me) + " " + does +
                           " it with no __syncthreads() between");
    };
    if (!write && t.writer < 0) {
      throw EmulationError("shared array " + std::string(name_) + "[" + std::to_string(i) +
                           "] read by " + here() + " before any thread of the block wrote it");
    }
    if (t.writer >= 0 && !ordered(t.writer, t.write_epoch, t.write_warp_epoch)) {
      race(t.writer, "wrote", write ? "writes" : "reads");
    }
    const unsigned my_warp = static_cast<unsigned>(me) / kWarpSize;
    if (write) {
      if (t.reader >= 0 && !ordered(t.reader, t.read_epoch, t.read_warp_epoch)) {
        race(t.reader, "read", "writes");
      }
      if (t.many_readers && b.epoch == t.read_epoch) race(t.reader, "(with others) read", "writes");
      t.writer = me;
      t.write_epoch = b.epoch;
      t.write_warp_epoch = b.warp_epoch[my_warp];
      t.reader = -1;
      t.many_readers = false;
    } else if (t.reader < 0 || ordered(t.reader, t.read_epoch, t.read_warp_epoch)) {
      t.reader = me;
      t.many_readers = false;
      t.read_epoch = b.epoch;
      t.read_warp_epoch = b.warp_epoch[my_warp];
    } else if (t.reader != me) {
      t.many_readers = true;
    }
  }

  const char* name_;
  T data_[N];
  std::vector<Track> track_;
  uint64_t serial_ = 0;
};

}  // namespace actionkit::emu

using dim3 = actionkit::emu::dim3;
#define threadIdx (::actionkit::emu::threadIdx_)
#define blockIdx (::actionkit::emu::blockIdx_)
#define blockDim (::actionkit::emu::blockDim_)
#define gridDim (::actionkit::emu::gridDim_)
constexpr int warpSize = ::actionkit::emu::kWarpSize;

using cudaStream_t = void*;
enum cudaError_t { cudaSuccess = 0 };
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline const char* cudaGetErrorString(cudaError_t) { return "no error"; }
// "Device" memory is host memory and every launch has finished when it returns.
enum cudaMemcpyKind {
  cudaMemcpyHostToHost,
  cudaMemcpyHostToDevice,
  cudaMemcpyDeviceToHost,
  cudaMemcpyDeviceToDevice
};
inline cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind,
                                   cudaStream_t = nullptr) {
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t = nullptr) {
  std::memset(dst, value, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }

// Fibers never preempt one another: a plain read-modify-write is atomic.
template <typename T>
inline T atomicAdd(T* address, T value) {
  T old = *address;
  *address = old + value;
  return old;
}
template <typename T>
inline T atomicMax(T* address, T value) {
  T old = *address;
  *address = old < value ? value : old;
  return old;
}
template <typename T>
inline T atomicMin(T* address, T value) {
  T old = *address;
  *address = value < old ? value : old;
  return old;
}
template <typename T>
inline T atomicCAS(T* address, T compare, T value) {
  T old = *address;
  if (old == compare) *address = value;
  return old;
}
template <typename T>
inline T atomicExch(T* address, T value) {
  T old = *address;
  *address = value;
  return old;
}

inline int __popc(unsigned int x) { return __builtin_popcount(x); }
inline int __ffs(int x) { return __builtin_ffs(x); }

inline void __syncthreads() {
  ::actionkit::emu::cooperative("__syncthreads()");
  ::actionkit::emu::yield(::actionkit::emu::Fiber::AtBarrier);
}

inline void __syncwarp(unsigned mask = 0xffffffffu) {
  ::actionkit::emu::warp_collective("__syncwarp", mask, 0, 0,
                                    [](const ::actionkit::emu::WarpOp&, unsigned) { return 0ull; });
}

template <typename T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize) {
  ::actionkit::emu::check_width(width, "__shfl_sync");
  return ::actionkit::emu::from_bits<T>(::actionkit::emu::warp_collective(
      "__shfl_sync", mask, ::actionkit::emu::to_bits(var), src_lane,
      [width](const ::actionkit::emu::WarpOp& op, unsigned lane) {
        const int source =
            static_cast<int>(lane & ~unsigned(width - 1)) + (op.args[lane] & (width - 1));
        return ::actionkit::emu::shuffled(op, lane, source, "__shfl_sync");
      }));
}

template <typename T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  ::actionkit::emu::check_width(width, "__shfl_up_sync");
  return ::actionkit::emu::from_bits<T>(::actionkit::emu::warp_collective(
      "__shfl_up_sync", mask, ::actionkit::emu::to_bits(var), static_cast<int>(delta),
      [width](const ::actionkit::emu::WarpOp& op, unsigned lane) {
        const int start = static_cast<int>(lane & ~unsigned(width - 1));
        const int source = static_cast<int>(lane) - op.args[lane];
        return ::actionkit::emu::shuffled(op, lane, source < start ? -1 : source, "__shfl_up_sync");
      }));
}

template <typename T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  ::actionkit::emu::check_width(width, "__shfl_down_sync");
  return ::actionkit::emu::from_bits<T>(::actionkit::emu::warp_collective(
      "__shfl_down_sync", mask, ::actionkit::emu::to_bits(var), static_cast<int>(delta),
      [width](const ::actionkit::emu::WarpOp& op, unsigned lane) {
        const int end = static_cast<int>(lane & ~unsigned(width - 1)) + width;
        const int source = static_cast<int>(lane) + op.args[lane];
        return ::actionkit::emu::shuffled(op, lane, source >= end ? -1 : source,
                                          "__shfl_down_sync");
      }));
}

template <typename T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize) {
  ::actionkit::emu::check_width(width, "__shfl_xor_sync");
  return ::actionkit::emu::from_bits<T>(::actionkit::emu::warp_collective(
      "__shfl_xor_sync", mask, ::actionkit::emu::to_bits(var), lane_mask,
      [width](const ::actionkit::emu::WarpOp& op, unsigned lane) {
        const int source = static_cast<int>(lane) ^ op.args[lane];
        const bool inside = source / width == static_cast<int>(lane) / width;
        return ::actionkit::emu::shuffled(op, lane, inside ? source : -1, "__shfl_xor_sync");
      }));
}

inline unsigned __ballot_sync(unsigned mask, int predicate) {
  return static_cast<unsigned>(::actionkit::emu::warp_collective(
      "__ballot_sync", mask, predicate != 0, 0, [](const ::actionkit::emu::WarpOp& op, unsigned) {
        uint64_t bits = 0;
        for (int l = 0; l < ::actionkit::emu::kWarpSize; ++l)
          if (op.mask >> l & 1u && op.values[l]) bits |= 1ull << l;
        return bits;
      }));
}
inline int __any_sync(unsigned mask, int predicate) { return __ballot_sync(mask, predicate) != 0; }
inline int __all_sync(unsigned mask, int predicate) {
  return __ballot_sync(mask, predicate) == mask;
}
