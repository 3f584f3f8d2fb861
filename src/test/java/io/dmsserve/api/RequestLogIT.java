package io.dmsserve.api;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.boot.test.web.server.LocalServerPort;

/** A refused request is logged once, in one line that names its id, without a stack trace. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"dms.kv-cache.memory=8MB", "dms.cpu.threads=2"})
@ExtendWith(OutputCaptureExtension.class)
class RequestLogIT {

    @LocalServerPort
    int port;

    @Test
    void aClientMistakeIsOneLineNamingTheRequest(CapturedOutput output) {
        Http http = new Http(port);
        int before = output.getOut().length();
        Http.Reply reply = http.post("/v1/chat/completions",
                "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":1000000}");
        assertThat(reply.status()).isEqualTo(400);
        String logged = output.getOut().substring(before);
        assertThat(logged).containsPattern("chatcmpl-[0-9a-f]{32}: refused with 400: This model's maximum context"
                + " length is 4096 tokens\\. However, you requested 10000\\d\\d tokens");
        assertThat(logged.lines().filter(line -> line.contains("refused with"))).hasSize(1);
        assertThat(logged).doesNotContain("\tat ").doesNotContain("Exception");

        before = output.getOut().length();
        assertThat(http.post("/v1/completions", "{\"prompt\":\"hi\",\"temperature\":7}").status()).isEqualTo(400);
        assertThat(output.getOut().substring(before)).containsPattern("cmpl-[0-9a-f]{32}: refused with 400: .*temperature");
    }
}
