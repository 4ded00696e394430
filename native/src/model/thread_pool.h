// A small fixed pool for the element-wise loops (norms, softmax, gelu, AdamW); the matrix products use
// OpenBLAS's own threads. Workers sleep on a condition variable between calls so they never compete with
// OpenBLAS for the cores.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ft5::model {

class ThreadPool {
public:
    explicit ThreadPool(unsigned threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    unsigned size() const noexcept { return unsigned(workers_.size()) + 1; }
    // Calls fn(begin, end) over [0, n) split into contiguous chunks, one per thread; returns when all are done.
    // Small ranges (below min_chunk per thread) run on the calling thread alone.
    void parallel_for(size_t n, const std::function<void(size_t, size_t)>& fn, size_t min_chunk = 1);

private:
    void worker_loop(unsigned index);

    std::vector<std::thread> workers_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable done_;
    const std::function<void(size_t, size_t)>* job_ = nullptr;
    size_t job_n_ = 0;
    unsigned job_parts_ = 0;
    unsigned pending_ = 0;
    unsigned long generation_ = 0;
    bool stop_ = false;
};

}  // namespace ft5::model
