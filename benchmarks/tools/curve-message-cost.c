// What CURVE costs one weight-sized message: two PAIR sockets in one process
// over tcp loopback pass a 407,080-byte message (784-128-10's parameters) back
// and forth, in plaintext or with CURVE, and the time and CPU per one-way
// message are printed. Usage: curve-message-cost 0|1 (1 = CURVE).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

static double seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec + now.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    int curve = argc > 1 && atoi(argv[1]) == 1;
    const size_t bytes = 407080;
    const int round_trips = 2000;
    void *context = zmq_ctx_new();
    void *server = zmq_socket(context, ZMQ_PAIR), *client = zmq_socket(context, ZMQ_PAIR);
    if (curve) {
        char server_public[41], server_secret[41], client_public[41], client_secret[41];
        int one = 1;
        zmq_curve_keypair(server_public, server_secret);
        zmq_curve_keypair(client_public, client_secret);
        zmq_setsockopt(server, ZMQ_CURVE_SERVER, &one, sizeof one);
        zmq_setsockopt(server, ZMQ_CURVE_SECRETKEY, server_secret, 40);
        zmq_setsockopt(client, ZMQ_CURVE_SERVERKEY, server_public, 40);
        zmq_setsockopt(client, ZMQ_CURVE_PUBLICKEY, client_public, 40);
        zmq_setsockopt(client, ZMQ_CURVE_SECRETKEY, client_secret, 40);
    }
    char endpoint[256];
    size_t size = sizeof endpoint;
    if (zmq_bind(server, "tcp://127.0.0.1:*") != 0) { perror("bind"); return 1; }
    zmq_getsockopt(server, ZMQ_LAST_ENDPOINT, endpoint, &size);
    zmq_connect(client, endpoint);
    char *buffer = malloc(bytes);
    memset(buffer, 1, bytes);
    for (int i = 0; i < round_trips + 50; i++) {
        static double start, cpu_start;
        if (i == 50) { start = seconds(); cpu_start = (double)clock() / CLOCKS_PER_SEC; }
        zmq_send(client, buffer, bytes, 0);
        zmq_recv(server, buffer, bytes, 0);
        zmq_send(server, buffer, bytes, 0);
        zmq_recv(client, buffer, bytes, 0);
        if (i == round_trips + 49) {
            double messages = 2.0 * round_trips;
            printf("%-9s %.3f ms per one-way 407,080-byte message, %.3f ms of CPU (encrypt, send, receive, decrypt)\n",
                   curve ? "CURVE" : "plaintext", (seconds() - start) / messages * 1e3,
                   ((double)clock() / CLOCKS_PER_SEC - cpu_start) / messages * 1e3);
        }
    }
    zmq_close(server);
    zmq_close(client);
    zmq_ctx_term(context);
    free(buffer);
    return 0;
}
