#include "model/thread_pool.h"

#include <algorithm>

namespace ft5::model {

ThreadPool::ThreadPool(unsigned threads) {
    const unsigned n = std::max(1u, threads);
    for (unsigned i = 1; i < n; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
}

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t, size_t)>& fn, size_t min_chunk) {
    if (n == 0) return;
    const unsigned parts = unsigned(std::min<size_t>(size(), std::max<size_t>(1, n / std::max<size_t>(1, min_chunk))));
    if (parts <= 1) {
        fn(0, n);
        return;
    }
    {
        std::lock_guard lock(mutex_);
        job_ = &fn;
        job_n_ = n;
        job_parts_ = parts;
        pending_ = parts - 1;
        ++generation_;
    }
    wake_.notify_all();
    fn(0, n / parts);
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    job_ = nullptr;
}

void ThreadPool::worker_loop(unsigned index) {
    unsigned long seen = 0;
    for (;;) {
        const std::function<void(size_t, size_t)>* job = nullptr;
        size_t n = 0;
        unsigned parts = 0;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
            if (stop_) return;
            seen = generation_;
            job = job_;
            n = job_n_;
            parts = job_parts_;
        }
        if (index < parts) {
            (*job)(n * index / parts, n * (index + 1) / parts);
            std::lock_guard lock(mutex_);
            if (--pending_ == 0) done_.notify_one();
        }
    }
}

}  // namespace ft5::model
