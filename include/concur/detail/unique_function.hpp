// concur/detail/unique_function.hpp - a move-only std::function with a small buffer.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

#include <cstddef>
#include <functional>
#include <new>
#include <type_traits>
#include <utility>

namespace concur::detail {

template <class Signature>
class UniqueFunction;

// Holds any callable, including move-only ones (std::function needs copyable targets). Small,
// nothrow-movable callables live inside the object; others on the heap.
template <class R, class... A>
class UniqueFunction<R(A...)> {
  static constexpr std::size_t buffer_size = 4 * sizeof(void*);

  struct VTable {
    R (*call)(void* self, A&&... args);
    void (*move)(void* dst, void* src) noexcept;  // move-constructs dst from src, destroys src
    void (*destroy)(void* self) noexcept;
    bool heap;  // the buffer holds a pointer to the callable
  };

  template <class F>
  static constexpr bool fits_inline =
      sizeof(F) <= buffer_size &&
      alignof(F) <= alignof(std::max_align_t) && std::is_nothrow_move_constructible_v<F>;

  template <class F>
  static F* inline_target(void* self) noexcept {
    return std::launder(static_cast<F*>(self));
  }
  template <class F>
  static F* heap_target(void* self) noexcept {
    return *static_cast<F**>(self);
  }

  template <class F>
  static constexpr VTable inline_vtable{
      [](void* self, A&&... args) -> R {
        return std::invoke(*inline_target<F>(self), std::forward<A>(args)...);
      },
      [](void* dst, void* src) noexcept {
        F* from = inline_target<F>(src);
        ::new (dst) F(std::move(*from));
        from->~F();
      },
      [](void* self) noexcept { inline_target<F>(self)->~F(); }, false};

  template <class F>
  static constexpr VTable heap_vtable{
      [](void* self, A&&... args) -> R {
        return std::invoke(*heap_target<F>(self), std::forward<A>(args)...);
      },
      [](void* dst, void* src) noexcept { *static_cast<F**>(dst) = heap_target<F>(src); },
      [](void* self) noexcept { delete heap_target<F>(self); }, true};

 public:
  UniqueFunction() noexcept = default;
  UniqueFunction(std::nullptr_t) noexcept {}  // NOLINT(google-explicit-constructor)

  template <class F, class D = std::decay_t<F>,
            class = std::enable_if_t<!std::is_same_v<D, UniqueFunction> &&
                                     std::is_invocable_r_v<R, D&, A...>>>
  UniqueFunction(F&& fn) {  // NOLINT(google-explicit-constructor): like std::function
    if constexpr (fits_inline<D>) {
      ::new (static_cast<void*>(buffer_)) D(std::forward<F>(fn));
      vtable_ = &inline_vtable<D>;
    } else {
      *reinterpret_cast<D**>(buffer_) = new D(std::forward<F>(fn));
      vtable_ = &heap_vtable<D>;
    }
  }

  UniqueFunction(UniqueFunction&& other) noexcept : vtable_(other.vtable_) {
    if (vtable_ != nullptr) {
      vtable_->move(buffer_, other.buffer_);
      other.vtable_ = nullptr;
    }
  }

  UniqueFunction& operator=(UniqueFunction&& other) noexcept {
    if (this != &other) {
      reset();
      if (other.vtable_ != nullptr) {
        other.vtable_->move(buffer_, other.buffer_);
        vtable_ = other.vtable_;
        other.vtable_ = nullptr;
      }
    }
    return *this;
  }

  UniqueFunction(const UniqueFunction&) = delete;
  UniqueFunction& operator=(const UniqueFunction&) = delete;

  ~UniqueFunction() { reset(); }

  void reset() noexcept {
    if (vtable_ != nullptr) {
      vtable_->destroy(buffer_);
      vtable_ = nullptr;
    }
  }

  explicit operator bool() const noexcept { return vtable_ != nullptr; }

  // The stored callable's address (for code that knows its type), or nullptr when empty.
  void* target() noexcept {
    if (vtable_ == nullptr) return nullptr;
    return vtable_->heap ? *reinterpret_cast<void**>(buffer_) : static_cast<void*>(buffer_);
  }

  R operator()(A... args) { return vtable_->call(buffer_, std::forward<A>(args)...); }

 private:
  alignas(std::max_align_t) unsigned char buffer_[buffer_size];
  const VTable* vtable_ = nullptr;
};

}  // namespace concur::detail
