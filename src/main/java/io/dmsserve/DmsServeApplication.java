package io.dmsserve;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

@SpringBootApplication
public class DmsServeApplication {

    public static void main(String[] args) {
        SpringApplication.run(DmsServeApplication.class, args);
    }
}
