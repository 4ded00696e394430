// Run as `mpirun -np 2`: the host instances' C ABI across two real processes. Join gives each its index,
// a gather gives every instance every block in instance order, a wrong buffer size is refused naming both
// sizes, and a gather one instance is late for times out on the other (then leave() still
// completes it, so both finish). Each instance exits non-zero on its own failures.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "ft5/ft5.h"

namespace {

int index = -1, count = 0;
int failures = 0;

void expect(bool ok, const std::string& what) {
    if (ok) return;
    ++failures;
    std::cerr << "instance " << index << ": FAIL " << what << "\n";
}

std::string last_error() { return ft5_last_error() == nullptr ? "" : ft5_last_error(); }

void gather_orders_blocks_by_instance() {
    const std::vector<unsigned char> mine = {static_cast<unsigned char>(index), static_cast<unsigned char>(10 + index),
                                             static_cast<unsigned char>(20 + index)};
    std::vector<unsigned char> all(mine.size() * static_cast<std::size_t>(count));
    std::int32_t completed = 0;
    expect(ft5_instances_all_gather(mine.data(), mine.size(), all.data(), all.size(), 10000, &completed) == FT5_OK,
           "gather: " + last_error());
    expect(completed == 1, "gather: timed out");
    expect(all == std::vector<unsigned char>({0, 10, 20, 1, 11, 21}), "gather: blocks not in instance order");
}

void wrong_output_size_is_refused() {
    unsigned char mine[4] = {};
    unsigned char all[7] = {};
    std::int32_t completed = 0;
    expect(ft5_instances_all_gather(mine, sizeof mine, all, sizeof all, 0, &completed) == FT5_ERR_INVALID_ARGUMENT,
           "wrong size accepted");
    expect(last_error().find("out_bytes is 7; expected 2 instances x 4 bytes = 8") != std::string::npos,
           "wrong size message: " + last_error());
}

void late_instance_times_out_the_other() {
    std::int64_t mine = 100 + index;
    std::int64_t all[2] = {};
    std::int32_t completed = 0;
    if (index == 1) {
        // Late by far more than instance 0 waits.
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        expect(ft5_instances_all_gather(&mine, sizeof mine, all, sizeof all, 0, &completed) == FT5_OK && completed == 1,
               "late gather: " + last_error());
        expect(all[0] == 100 && all[1] == 101, "late gather: wrong blocks");
        return;
    }
    const auto start = std::chrono::steady_clock::now();
    expect(ft5_instances_all_gather(&mine, sizeof mine, all, sizeof all, 200, &completed) == FT5_OK, "timeout: " + last_error());
    const auto waited = std::chrono::steady_clock::now() - start;
    expect(completed == 0, "the gather completed without the late instance");
    expect(waited >= std::chrono::milliseconds(200) && waited < std::chrono::milliseconds(1200),
           "the timeout did not wait 200 ms, or waited for the late instance");
    expect(ft5_instances_all_gather(&mine, sizeof mine, all, sizeof all, 0, &completed) == FT5_ERR_INVALID_ARGUMENT,
           "a gather after a timed-out one was accepted");
    expect(last_error().find("still pending") != std::string::npos, "pending message: " + last_error());
}

}  // namespace

int main() {
    if (ft5_instances_join(&index, &count) != FT5_OK) {
        std::cerr << "join failed: " << last_error() << "\n";
        return 1;
    }
    int again_index = -1, again_count = 0;
    expect(ft5_instances_join(&again_index, &again_count) == FT5_OK && again_index == index && again_count == count,
           "joining twice gave a different answer");
    if (count != 2) {
        std::cerr << "run with mpirun -np 2 (got " << count << " instances)\n";
        ft5_instances_abort(2);
    }
    gather_orders_blocks_by_instance();
    wrong_output_size_is_refused();
    late_instance_times_out_the_other();
    // Completes instance 0's timed-out gather with instance 1's late one, then finalises.
    expect(ft5_instances_leave() == FT5_OK, "leave: " + last_error());
    if (index == 0) std::cout << (failures == 0 ? "PASS" : "FAILED") << " on instance 0\n";
    return failures == 0 ? 0 : 1;
}
