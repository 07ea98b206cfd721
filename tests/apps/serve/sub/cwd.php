<?php echo getcwd(), "\n";
