// concur/detail/ring_queue.hpp - a FIFO on one growing circular buffer.
// Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace concur::detail {

// A first-in first-out queue of movable T in one circular buffer that doubles when full and
// never shrinks: once a pool has seen its busiest moment, queueing allocates nothing (a
// std::deque allocates and frees a block every few dozen elements). Not thread-safe.
template <class T>
class RingQueue {
  static_assert(std::is_nothrow_move_constructible_v<T> && std::is_nothrow_move_assignable_v<T>,
                "RingQueue moves elements when it grows or one is taken from the middle");

 public:
  RingQueue() = default;
  RingQueue(const RingQueue&) = delete;
  RingQueue& operator=(const RingQueue&) = delete;
  ~RingQueue() { clear(); }

  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }

  // Strong guarantee: if growing throws, the queue is unchanged.
  void push_back(T value) {
    if (size_ == capacity_) grow();
    ::new (static_cast<void*>(slot(head_ + size_))) T(std::move(value));
    ++size_;
  }

  // REQUIRES: !empty().
  T pop_front() noexcept {
    T* at = slot(head_);
    T out(std::move(*at));
    at->~T();
    head_ = (head_ + 1) & (capacity_ - 1);
    --size_;
    return out;
  }

  // REQUIRES: !empty(). Takes back the element pushed last.
  T pop_back() noexcept {
    T* at = slot(head_ + size_ - 1);
    T out(std::move(*at));
    at->~T();
    --size_;
    return out;
  }

  // REQUIRES: i < size(). The element i places behind the front.
  T& operator[](std::size_t i) noexcept { return *slot(head_ + i); }

  // REQUIRES: i < size(). Takes out the element i places behind the front; the elements behind
  // it move up one place, so the others keep their order.
  T take(std::size_t i) noexcept {
    T out(std::move(*slot(head_ + i)));
    for (std::size_t j = i; j + 1 < size_; ++j) *slot(head_ + j) = std::move(*slot(head_ + j + 1));
    slot(head_ + size_ - 1)->~T();
    --size_;
    return out;
  }

  void clear() noexcept {
    while (!empty()) pop_front();
  }

 private:
  struct Raw {
    void operator()(void* p) const noexcept { ::operator delete(p); }
  };

  T* slot(std::size_t i) noexcept {
    return std::launder(reinterpret_cast<T*>(buffer_.get())) + (i & (capacity_ - 1));
  }

  void grow() {
    const std::size_t capacity = capacity_ == 0 ? 64 : 2 * capacity_;
    std::unique_ptr<void, Raw> bigger(::operator new(capacity * sizeof(T)));
    T* to = static_cast<T*>(bigger.get());
    for (std::size_t i = 0; i < size_; ++i) {
      T* from = slot(head_ + i);
      ::new (static_cast<void*>(to + i)) T(std::move(*from));
      from->~T();
    }
    buffer_ = std::move(bigger);
    capacity_ = capacity;
    head_ = 0;
  }

  std::unique_ptr<void, Raw> buffer_;
  std::size_t capacity_ = 0;  // a power of two, or 0
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace concur::detail
