#include <hiredis/hiredis.h>
#include <sys/time.h>

/// Waits for the next reply (of a pipelined command, or a stream read); NULL on failure.
static inline redisReply *mg_redis_next(redisContext *context) {
    void *reply = NULL;
    if (redisGetReply(context, &reply) != REDIS_OK) return NULL;
    return (redisReply *)reply;
}

/// Connects with a time limit, and keeps the same limit on every read and write after.
static inline redisContext *mg_redis_connect(const char *host, int port, long milliseconds) {
    struct timeval limit = { milliseconds / 1000, (milliseconds % 1000) * 1000 };
    redisContext *context = redisConnectWithTimeout(host, port, limit);
    if (context != NULL && context->err == 0) redisSetTimeout(context, limit);
    return context;
}

/// Takes a connected socket (the plain end of a TLS tunnel) with the same time limit on
/// every read and write.
static inline redisContext *mg_redis_connect_fd(int fd, long milliseconds) {
    struct timeval limit = { milliseconds / 1000, (milliseconds % 1000) * 1000 };
    redisContext *context = redisConnectFd(fd);
    if (context != NULL && context->err == 0) redisSetTimeout(context, limit);
    return context;
}
