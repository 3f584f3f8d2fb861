package io.dmsserve.api;

import io.dmsserve.config.ServingModel;
import io.dmsserve.scheduler.Scheduler;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.test.context.bean.override.mockito.MockitoBean;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * What every {@link ApiSlice} test has: the client of the slice, the embedded model, and the scheduler as a Mockito
 * bean that each test drives through a {@link FakeScheduler} of its own.
 */
abstract class ApiSliceFixture {

    @Autowired
    WebTestClient client;
    @Autowired
    ServingModel model;
    @MockitoBean
    Scheduler scheduler;
}
